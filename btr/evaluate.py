"""Evaluate a model against a keyword-rule baseline and the majority class, never on its training data.

Protocols (:func:`evaluate` picks one):

``cv``
    ``K``-fold cross-validation grouped by event (``StratifiedGroupKFold`` on the
    category): a fresh copy of the model's estimator, with the saved
    hyper-parameters, is fitted on each training fold; all cases of an event,
    and both languages of a case, stay on one side.
``split``
    The corpus split of :func:`btr.corpus.split_cases`: fitted on train +
    validation, scored on test.
``heldout``
    The data shares no case with the model's training corpus: the saved model
    itself is scored.

Each head is scored on the rows where its label applies
(:data:`btr.models.NOT_APPLICABLE`): accuracy, macro-F1, per-class
precision/recall/F1, a confusion matrix, and the expected calibration error
(ECE, 10 equal-width bins of the top probability) with a reliability plot.

:func:`find_suspects` lists cases whose cross-validated prediction confidently
disagrees with their label, as confident learning does (per-class thresholds at the
mean self-confidence of each label), for annotators to review.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from btr.errors import InputError
from btr.files import write_json_atomic
from btr.models import (
    Model,
    applies,
    extra_texts,
    load_model,
    make_estimator,
    open_world_proba,
    portable_path,
    quiet_default,
    resolve_path,
    training_rows,
)
from btr.schema import HEADS, label_names

__all__ = ["cross_val_proba", "evaluate", "expected_calibration_error", "find_suspects", "head_metrics"]


def _rows(
    cases: Sequence[Any], unrelated: Sequence[Any] = ()
) -> tuple[list[str], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rows = training_rows(cases, unrelated)
    texts = [row["text"] for row in rows]
    y = {head: np.array([row[head] for row in rows], dtype=object) for head in HEADS}
    groups = np.array([row["event_id"] for row in rows], dtype=object)
    ids = np.array([row["id"] for row in rows], dtype=object)
    return texts, y, groups, ids


def _languages(cases: Sequence[Any], unrelated: Sequence[Any] = ()) -> np.ndarray:
    return np.array([row["language"] for row in training_rows(cases, unrelated)], dtype=object)


def expected_calibration_error(
    y_true: Sequence[str], proba: np.ndarray, names: Sequence[str], *, bins: int = 10
) -> tuple[float, list[dict[str, float]]]:
    """ECE of the top-label probability, and the reliability bins ``{lo, hi, n, confidence, accuracy}``."""
    if len(y_true) == 0:
        return float("nan"), []
    confidence = proba.max(axis=1)
    correct = np.array(
        [names[j] == t for j, t in zip(proba.argmax(axis=1), y_true, strict=True)], dtype=float
    )
    edges = np.linspace(0.0, 1.0, bins + 1)
    table, ece = [], 0.0
    for lo, hi in pairwise(edges):
        inside = (confidence > lo) & (confidence <= hi) if lo > 0 else (confidence <= hi)
        n = int(inside.sum())
        if n:
            conf, acc = float(confidence[inside].mean()), float(correct[inside].mean())
            ece += n / len(y_true) * abs(acc - conf)
            table.append({"lo": float(lo), "hi": float(hi), "n": n, "confidence": conf, "accuracy": acc})
    return float(ece), table


def _scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    if len(y_true) == 0:
        return {"accuracy": float("nan"), "macro_f1": float("nan")}
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def head_metrics(y_true: Sequence[str], proba: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class P/R/F1, confusion matrix and ECE of one head's predictions."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true = [str(t) for t in y_true]
    y_pred = [names[j] for j in proba.argmax(axis=1)] if len(y_true) else []
    labels = [n for n in names if n in set(y_true) | set(y_pred)]
    result: dict[str, Any] = _scores(y_true, y_pred)
    if y_true:
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
        result["per_class"] = {
            label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, label in enumerate(labels)
        }
        with warnings.catch_warnings():
            # a head whose split holds one label (exit_status of a small corpus) has a 1x1 matrix
            warnings.filterwarnings("ignore", message="A single label was found", category=UserWarning)
            matrix = confusion_matrix(y_true, y_pred, labels=labels).tolist()
        result["confusion"] = {"labels": labels, "matrix": matrix}
    result["ece"], result["reliability"] = expected_calibration_error(y_true, proba, names)
    return result


def _fold_splitter(k: int, seed: int):
    from sklearn.model_selection import StratifiedGroupKFold

    return StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)


def cross_val_proba(
    model: Model | Any,
    cases: Sequence[Any],
    *,
    unrelated: Sequence[Any] = (),
    k: int = 5,
    seed: int = 0,
    quiet: bool | None = None,
) -> dict[str, Any]:
    """Out-of-fold probabilities of the model's recipe, folds grouped by event.

    ``model`` is a loaded :class:`~btr.models.Model` (its kind and parameters are refitted per
    fold) or an unfitted estimator (``LinearModel(C=3)``: cloned per fold, lexicon gate on).
    Every language of a case, and every case of an event, stays on one side; each
    unrelated text is a group of its own. Predictions go through the model's
    open-world path (:func:`btr.models.open_world_proba`: lexicon gate, estimator,
    category and exit status joined), as ``btr tag`` does.

    Returns
    -------
    dict
        ``texts``, ``y`` (head -> labels), ``ids``, ``groups``, ``proba`` (head ->
        ``(n, n_labels)``), ``majority`` (head -> out-of-fold majority labels),
        ``folds`` (per fold, head -> model macro-F1) and ``seconds``.
    """
    from sklearn.base import clone
    from sklearn.model_selection import cross_validate

    texts, y, groups, ids = _rows(cases, unrelated)
    n_events = len(set(groups))
    if n_events < k:
        raise InputError(f"--cv {k} needs at least {k} events; the data has {n_events}")
    started = time.perf_counter()
    Y = np.column_stack([y[head] for head in HEADS])
    if isinstance(model, Model):
        estimator, gate = make_estimator(model.kind, **{**_params(model), "heads": tuple(HEADS)}), model.gate
    else:
        estimator, gate = clone(model).set_params(heads=tuple(HEADS)), True
    seen: dict[int, dict[str, np.ndarray]] = {}
    result = cross_validate(
        estimator,
        texts,
        Y,
        cv=_case_splits(ids, y["category"], groups, k, seed),
        scoring=_open_world_scorer(gate, seen),
        return_estimator=True,
        return_indices=True,
        verbose=0 if quiet_default(quiet) else 1,
    )
    proba = {head: np.zeros((len(texts), len(label_names(HEADS[head])))) for head in HEADS}
    majority = {head: np.empty(len(texts), dtype=object) for head in HEADS}
    for fitted, train, test in zip(
        result["estimator"], result["indices"]["train"], result["indices"]["test"], strict=True
    ):
        # the scorer already predicted the fold (in this process; a parallel run predicts again)
        fold_proba = seen.pop(id(fitted), None) or open_world_proba(
            fitted, [texts[i] for i in test], gate=gate
        )
        for head in HEADS:
            proba[head][test] = fold_proba[head]
            majority[head][test] = _majority(y[head][train], head)
    folds = [{head: float(result[f"test_{head}"][i]) for head in HEADS} for i in range(k)]
    return {
        "texts": texts,
        "y": y,
        "ids": ids,
        "groups": groups,
        "proba": proba,
        "majority": majority,
        "folds": folds,
        "seconds": time.perf_counter() - started,
    }


def _case_splits(ids: np.ndarray, category: np.ndarray, groups: np.ndarray, k: int, seed: int) -> list:
    """Row-index ``(train, test)`` pairs of a stratified k-fold grouped by event, drawn over cases
    (a case's rows in every language go together) and mapped back to rows."""
    units = list(dict.fromkeys(ids))  # case and unrelated ids, in row order
    unit_of_row = _unit_index(ids, units)
    first_row = {unit: i for i, unit in reversed(list(enumerate(ids)))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rare classes have fewer members than folds
        splits = _fold_splitter(k, seed).split(
            np.zeros(len(units)),
            [category[first_row[u]] for u in units],
            [groups[first_row[u]] for u in units],
        )
        return [
            (np.flatnonzero(np.isin(unit_of_row, train)), np.flatnonzero(np.isin(unit_of_row, test)))
            for train, test in splits
        ]


def _open_world_scorer(gate: bool, seen: dict[int, dict[str, np.ndarray]]):
    """A scorer for :func:`sklearn.model_selection.cross_validate`: macro-F1 of every head on
    the applicable rows, predicted through the open-world path as ``btr tag`` predicts. The
    probabilities are kept in ``seen`` by estimator, so that the out-of-fold loop need not
    predict the fold a second time."""

    def score(estimator: Any, X: Sequence[str], Y: np.ndarray) -> dict[str, float]:
        fold_proba = seen[id(estimator)] = open_world_proba(estimator, list(X), gate=gate)
        out = {}
        for i, head in enumerate(HEADS):
            mask = applies(head, Y[:, i])
            names = label_names(HEADS[head])
            pred = [names[j] for j in fold_proba[head][mask].argmax(axis=1)]
            out[head] = _scores(list(Y[mask, i]), pred)["macro_f1"]
        return out

    return score


def _unit_index(ids: np.ndarray, units: list[str]) -> np.ndarray:
    at = {unit: i for i, unit in enumerate(units)}
    return np.array([at[i] for i in ids])


def _params(model: Model) -> dict[str, Any]:
    params = dict(model.meta["params"])
    if model.kind == "transformer":
        params["quiet"] = True
    return params


def _majority(labels: np.ndarray, head: str) -> str:
    """The most frequent applicable label (a tie goes to the alphabetically first, never to row order)."""
    from sklearn.dummy import DummyClassifier

    applicable = np.array([str(v) for v in labels[applies(head, labels)]], dtype=object)
    if not len(applicable):
        return label_names(HEADS[head])[0]
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(applicable), 1)), applicable)
    return str(dummy.predict(np.zeros((1, 1)))[0])


def _score_heads(
    texts: list[str], y: dict[str, np.ndarray], proba: dict[str, np.ndarray], majority: dict[str, np.ndarray]
) -> dict[str, Any]:
    from btr.rules import predict_rules

    rules = predict_rules(texts)
    heads = {}
    for head in HEADS:
        names = label_names(HEADS[head])
        mask = applies(head, y[head])
        truth = [str(v) for v in y[head][mask]]
        keyword = [label for label, m in zip(rules[head], mask, strict=True) if m]
        heads[head] = {
            "n": int(mask.sum()),
            "model": head_metrics(truth, proba[head][mask], names),
            "keyword": _scores(truth, keyword),
            "majority": _scores(truth, [str(v) for v in majority[head][mask]]),
        }
    return heads


def evaluate(
    model: str | Path | Model,
    *,
    data: str | Path | None = None,
    unrelated: str | Path | None = None,
    cv: int | None = None,
    out: str | Path | None = None,
    suspects: bool = False,
    seed: int = 0,
    record: bool = True,
    quiet: bool | None = None,
) -> dict[str, Any]:
    """Score a model per head beside the keyword-rule and majority baselines.

    Parameters
    ----------
    model : path or Model
        A model directory (``models/NAME``) or a loaded model.
    data : path, optional
        A corpus file of labelled cases; default ``corpus/cases.jsonl``.
    unrelated : path, optional
        Unrelated texts cross-validated beside the cases (``--cv``), each a group of its own;
        with the default corpus, ``corpus/unrelated.jsonl`` and ``corpus/exits.jsonl`` when
        they exist.
    cv : int, optional
        Run ``cv``-fold cross-validation grouped by event. Without it, data that
        shares no case with the training corpus scores the saved model
        (``heldout``); otherwise the model's recipe is refitted on the train +
        validation split and scored on the test split (``split``).
    out : path, optional
        Write ``report.json`` and, per head, ``confusion_<head>.png`` and
        ``reliability_<head>.png`` here.
    suspects : bool
        Also list cases whose cross-validated prediction confidently disagrees
        with their label (uses ``cv`` folds, 5 by default).
    record : bool
        Record the result in the model's ``meta.json`` and model card.

    Returns
    -------
    dict
        ``{"protocol", "model", "data", "data_sha256", "n_cases", "heads": {head:
        {"n", "model": {...}, "keyword": {...}, "majority": {...}}}, ...}``

    Examples
    --------
    >>> report = evaluate("models/default", cv=5)          # doctest: +SKIP
    >>> report["heads"]["category"]["model"]["macro_f1"]   # doctest: +SKIP
    0.9
    """
    from btr.corpus import DEFAULT_CORPUS, corpus_hash, load_cases

    loaded = model if isinstance(model, Model) else load_model(model, quiet=quiet)
    path = Path(data or DEFAULT_CORPUS)
    cases = load_cases(path)
    if not cases:
        raise InputError(f"{path}: no cases to evaluate on")
    extra = extra_texts(path, unrelated) if cv or suspects else []
    report: dict[str, Any] = {
        "model": loaded.name,
        "model_version": loaded.version,
        "data": str(path),
        "data_sha256": corpus_hash(path),
        "n_cases": len(cases),
        "n_events": len({c.event_id for c in cases}),
        "n_unrelated": len(extra),
    }
    started = time.perf_counter()
    oof = cross_val_proba(loaded, cases, unrelated=extra, k=cv, seed=seed, quiet=quiet) if cv else None
    if oof is not None:
        report.update(_cv_report(oof, cv))
    elif not set(loaded.meta["corpus"]["case_ids"]) & {c.id for c in cases}:
        report.update(_heldout_report(loaded, cases))
    else:
        report.update(_split_report(loaded, cases, seed, path))
    report["seconds"] = round(time.perf_counter() - started, 2)
    report["command"] = "btr evaluate --model {} --data {}{}".format(
        portable_path(loaded.path), portable_path(path), f" --cv {cv}" if cv else ""
    )
    if suspects:
        if oof is None:
            oof = cross_val_proba(loaded, cases, unrelated=extra, k=cv or 5, seed=seed, quiet=quiet)
        report["suspects"] = find_suspects(oof["ids"], oof["y"], oof["proba"])
    if out:
        report["files"] = [str(p) for p in _write_outputs(Path(out), report)]
    if record:
        loaded.update_metrics(report["key"], _summary(report))
    return report


def _cv_report(oof: dict[str, Any], cv: int) -> dict[str, Any]:
    heads = _score_heads(oof["texts"], oof["y"], oof["proba"], oof["majority"])
    for head in HEADS:
        values = [fold[head] for fold in oof["folds"]]
        heads[head]["model"]["fold_macro_f1"] = {
            "mean": float(np.nanmean(values)),
            "std": float(np.nanstd(values)),
        }
    return {"protocol": f"{cv}-fold cross-validation grouped by event", "key": f"cv{cv}", "heads": heads}


def _heldout_report(model: Model, cases: Sequence[Any]) -> dict[str, Any]:
    """The saved model scored on cases it was not trained on."""
    texts, y, _, _ = _rows(cases)
    proba = model.predict_proba(texts)
    majority = {
        head: np.array([_majority_from_meta(model, head)] * len(texts), dtype=object) for head in HEADS
    }
    return {
        "protocol": "held-out data (no case shared with the training corpus)",
        "key": "heldout",
        "heads": _score_heads(texts, y, proba, majority),
    }


def _split_report(model: Model, cases: Sequence[Any], seed: int, path: Path) -> dict[str, Any]:
    """The model's recipe refitted on the train + validation split and scored on the test split."""
    from btr.corpus import split_cases

    parts = split_cases(cases, seed=seed)
    train_cases, test_cases = parts["train"] + parts["validation"], parts["test"]
    if not test_cases:
        raise InputError(f"{path}: too few events for a test split; use --cv K")
    train_texts, train_y, _, _ = _rows(train_cases)
    texts, y, _, _ = _rows(test_cases)
    estimator = make_estimator(model.kind, **_params(model)).fit(train_texts, train_y)
    proba = open_world_proba(estimator, texts, gate=model.gate)
    majority = {head: np.array([_majority(train_y[head], head)] * len(texts), dtype=object) for head in HEADS}
    return {
        "protocol": f"fitted on the train+validation split ({len(train_cases)} cases), "
        f"scored on the test split ({len(test_cases)} cases), grouped by event",
        "key": "split",
        "heads": _score_heads(texts, y, proba, majority),
    }


def _majority_from_meta(model: Model, head: str) -> str:
    """The majority label of the training corpus, read back from the corpus file when it still exists."""
    from btr.corpus import load_cases

    path = resolve_path(model.meta["corpus"]["path"])
    ids = set(model.meta["corpus"]["case_ids"])
    if path.is_file():
        labels = np.array([c.head(head) for c in load_cases(path) if c.id in ids], dtype=object)
        if len(labels):
            return _majority(labels, head)
    return model.meta["classes"][head][0]


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """The part of a report kept in ``meta.json``: headline figures per head."""
    heads = {}
    for head, h in report["heads"].items():
        model = {key: h["model"][key] for key in ("accuracy", "macro_f1", "ece") if key in h["model"]}
        if "fold_macro_f1" in h["model"]:
            model["fold_macro_f1"] = h["model"]["fold_macro_f1"]
        model["per_class_f1"] = {label: v["f1"] for label, v in h["model"].get("per_class", {}).items()}
        heads[head] = {"n": h["n"], "model": model, "keyword": h["keyword"], "majority": h["majority"]}
    return {
        "protocol": report["protocol"],
        "command": report["command"],
        "data_sha256": report["data_sha256"],
        "n_cases": report["n_cases"],
        "seconds": report["seconds"],
        "heads": heads,
    }


def find_suspects(
    ids: Sequence[str], y: dict[str, np.ndarray], proba: dict[str, np.ndarray]
) -> list[dict[str, Any]]:
    """Cases whose out-of-fold prediction confidently disagrees with their label.

    Probabilities of a case's rows (one per language) are averaged. For each head,
    the threshold of a label is the mean probability the model gives that label on
    the cases that carry it (confident learning's per-class threshold). A case is a
    suspect when the most probable label above its threshold is not the given one,
    is more probable than the given one, and the given label is below its own
    threshold (the model is confident in neither the label nor the case's fit to it).

    Returns
    -------
    list of dict
        ``{"id", "head", "given", "suggested", "p_suggested", "p_given", "margin"}``,
        largest margin first.
    """
    ids = np.asarray(ids, dtype=object)
    order = list(dict.fromkeys(ids.tolist()))
    index = {cid: i for i, cid in enumerate(order)}
    rows_of = np.array([index[cid] for cid in ids])
    found = []
    for head in HEADS:
        names = label_names(HEADS[head])
        case_proba = np.zeros((len(order), len(names)))
        np.add.at(case_proba, rows_of, proba[head])
        case_proba /= np.bincount(rows_of, minlength=len(order))[:, None]
        given = np.empty(len(order), dtype=object)
        given[rows_of] = y[head]
        mask = applies(head, given)
        thresholds = np.full(len(names), np.inf)
        for j, label in enumerate(names):
            carrying = mask & (given == label)
            if carrying.any():
                thresholds[j] = case_proba[carrying, j].mean()
        for i in np.flatnonzero(mask):
            above = np.flatnonzero(case_proba[i] >= thresholds)
            if not len(above):
                continue
            best = above[np.argmax(case_proba[i, above])]
            g = names.index(given[i])
            if best != g and case_proba[i, best] > case_proba[i, g] and case_proba[i, g] < thresholds[g]:
                found.append(
                    {
                        "id": order[i],
                        "head": head,
                        "given": given[i],
                        "suggested": names[best],
                        "p_suggested": round(float(case_proba[i, best]), 4),
                        "p_given": round(float(case_proba[i, g]), 4),
                        "margin": round(float(case_proba[i, best] - case_proba[i, g]), 4),
                    }
                )
    return sorted(found, key=lambda s: -s["margin"])


def _write_outputs(out: Path, report: dict[str, Any]) -> list[Path]:

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for head, h in report["heads"].items():
        model = h["model"]
        if "confusion" in model:
            labels, matrix = model["confusion"]["labels"], np.array(model["confusion"]["matrix"])
            fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(labels), 1.0 + 0.6 * len(labels)))
            ConfusionMatrixDisplay(matrix, display_labels=labels).plot(
                ax=ax, cmap="Blues", colorbar=False, xticks_rotation=60, text_kw={"fontsize": 8}
            )
            ax.tick_params(labelsize=8)
            ax.set_xlabel("predicted")
            ax.set_ylabel("labelled")
            ax.set_title(f"{head}: macro-F1 {model['macro_f1']:.2f}")
            fig.tight_layout()
            written.append(out / f"confusion_{head}.png")
            fig.savefig(written[-1], dpi=110)
            plt.close(fig)
        fig, ax = plt.subplots(figsize=(4, 4))
        bins = model.get("reliability", [])
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        if bins:
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", label="model")
        ax.set_xlabel("predicted probability (top label)")
        ax.set_ylabel("share correct")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(f"{head}: ECE {model['ece']:.3f}")
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        written.append(out / f"reliability_{head}.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    written.append(out / "report.json")
    write_json_atomic(written[-1], report, indent=2)
    return written


def table(report: dict[str, Any]) -> str:
    """A plain-text table of a report: per head, the model beside the baselines."""
    lines = [
        report["protocol"],
        f"{'head':<16}{'rows':>6}{'model F1':>10}{'acc':>7}{'ECE':>7}{'rules F1':>10}{'major F1':>10}",
    ]
    for head, h in report["heads"].items():
        m = h["model"]
        lines.append(
            f"{head:<16}{h['n']:>6}{m['macro_f1']:>10.3f}{m['accuracy']:>7.3f}{m['ece']:>7.3f}"
            f"{h['keyword']['macro_f1']:>10.3f}{h['majority']['macro_f1']:>10.3f}"
        )
    return "\n".join(lines)
