"""Evaluate a model where ``btr tag`` is used: on news articles, most of them unrelated.

The corpus's grouped cross-validation scores summaries written in one house style
about resignation-related events. :func:`evaluate_news` scores the saved model on a
news set written for evaluation (``corpus/news_dev.jsonl``: real events that are not
events of the corpus, reports of exits and near misses beside unrelated news, in the
languages of the news) and reports what a user of an archive needs:

- ``is_btr`` precision, recall and F1, overall and per language, beside a keyword
  baseline;
- the false-positive rate on unrelated articles, and the precision to expect at a base
  rate of one relevant article in 1,000, computed from the measured rates;
- errors by kind (:class:`btr.schema.ExitStatus` of the exit, and exits from non-public
  posts), with an example of each;
- trigger macro-F1 on the relevant articles with a blamed event;
- the lexicon gate's recall on every relevant article and every relevant corpus text, and
  the share of unrelated articles it lets through.

The set is refused when any of its events or named persons is an event or official of
the training corpus, so that the model is never scored on what it learned from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from btr.errors import DataError, Problem
from btr.models import Model, load_model, portable_path

__all__ = ["BASE_RATE", "FLOORS", "evaluate_news", "news_table", "precision_at_base_rate"]

#: One relevant article in this many: the base rate at which expected precision is reported.
BASE_RATE = 1 / 1000
#: The floors of the open-world issue, stated beside the measured figures.
FLOORS = {
    "is_btr_f1": 0.90,
    "is_btr_f1_per_language": 0.85,
    "fp_rate_unrelated": 0.005,
    "trigger_macro_f1": 0.70,
}
_GATE_FLOOR = 0.995


def precision_at_base_rate(recall: float, fp_rate: float, base_rate: float = BASE_RATE) -> float:
    """Expected precision when a share ``base_rate`` of articles is relevant.

    Bayes' rule on the measured recall (true-positive rate) and false-positive rate.

    Examples
    --------
    >>> round(precision_at_base_rate(0.9, 0.001), 3)
    0.474
    """
    hits = recall * base_rate
    false = fp_rate * (1 - base_rate)
    return float(hits / (hits + false)) if hits + false > 0 else float("nan")


def _prf(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp = int((truth & pred).sum())
    fp = int((~truth & pred).sum())
    fn = int((truth & ~pred).sum())
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return {
        "n": len(truth),
        "positives": int(truth.sum()),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def _kind(article: Any) -> str:
    if article.category.value == "unrelated":
        return "unrelated"
    if article.category.value == "non_public":
        return "non_public"
    return article.exit_status.value


def _check_disjoint(articles: Sequence[Any], model: Model, cases: Sequence[Any], path: Path) -> None:
    trained = {c.event_id for c in cases}
    officials = {c.official.name.lower() for c in cases} | {c.official.name_en.lower() for c in cases}
    problems = []
    for a in articles:
        if a.event_id in trained:
            problems.append(
                Problem(str(path), None, "event_id", f"{a.id}: event {a.event_id} is in the corpus")
            )
        if a.category.value != "unrelated":
            shared = [p for p in a.persons if p.lower() in officials]
            if shared:
                problems.append(
                    Problem(
                        str(path),
                        None,
                        "persons",
                        f"{a.id}: {', '.join(shared)} is an official of the corpus",
                    )
                )
    if problems:
        raise DataError(problems, f"{path}: the news set shares events with the training corpus")


def evaluate_news(
    model: str | Path | Model,
    *,
    news: str | Path | None = None,
    base_rate: float = BASE_RATE,
    record: bool = True,
) -> dict[str, Any]:
    """Score a saved model on a news evaluation set.

    Parameters
    ----------
    model : path or Model
    news : path, optional
        A JSONL file of :class:`btr.schema.NewsArticle`; default ``corpus/news_dev.jsonl``.
    base_rate : float
        Share of relevant articles at which to report the expected precision.
    record : bool
        Record the figures in the model's ``meta.json`` and card (key ``news``).

    Returns
    -------
    dict
        ``overall``, ``per_language``, ``fp_rate_unrelated``, ``precision_at_base_rate``,
        ``kinds``, ``trigger``, ``category`` (macro-F1 and the confusion matrix, rows the
        true labels), ``gate``, ``baseline`` and ``floors``.
    """
    from btr.corpus import DEFAULT_CORPUS, DEFAULT_NEWS, corpus_hash, load_cases, load_news
    from btr.models import resolve_path

    loaded = model if isinstance(model, Model) else load_model(model)
    path = Path(news or DEFAULT_NEWS)
    articles = load_news(path)
    corpus_path = resolve_path(loaded.meta["corpus"]["path"])
    cases = load_cases(corpus_path if corpus_path.exists() else DEFAULT_CORPUS)
    _check_disjoint(articles, loaded, cases, path)

    texts = [a.text for a in articles]
    predicted = loaded.predict(texts)
    truth = np.array([a.is_btr for a in articles])
    pred = np.array([p["category"]["label"] == "btr" for p in predicted])
    languages = np.array([a.language.value for a in articles], dtype=object)
    unrelated = np.array([a.category.value == "unrelated" for a in articles])
    overall = _prf(truth, pred)
    fp_rate = float(pred[unrelated].mean()) if unrelated.any() else float("nan")
    flagged = np.array([p["category"]["label"] != "unrelated" for p in predicted])
    report = {
        "protocol": "held-out news set: real events that are not events of the training corpus",
        "model": loaded.name,
        "model_version": loaded.version,
        "news": portable_path(path),
        "news_sha256": corpus_hash(path),
        "n_articles": len(articles),
        "n_relevant": int((~unrelated).sum()),
        "n_unrelated": int(unrelated.sum()),
        "languages": dict(Counter(languages.tolist())),
        "overall": overall,
        "per_language": _per_language(truth, pred, languages, ~unrelated),
        "fp_rate_unrelated": fp_rate,
        "flagged_rate_unrelated": float(flagged[unrelated].mean()) if unrelated.any() else float("nan"),
        "base_rate": base_rate,
        "precision_at_base_rate": precision_at_base_rate(overall["recall"], fp_rate, base_rate),
        "kinds": _kinds(articles, predicted, truth, pred),
        "trigger": _trigger_scores(articles, predicted),
        "category": _category_scores(articles, predicted),
        "gate": _gate_scores(articles, texts, cases),
        "baseline": _keyword_baseline(texts, truth, unrelated),
        "floors": FLOORS | {"gate_recall": _GATE_FLOOR},
        "command": f"btr evaluate --model {portable_path(loaded.path)} --news {portable_path(path)}",
    }
    if record:
        loaded.update_metrics("news", _summary(report))
    return report


def _per_language(truth: np.ndarray, pred: np.ndarray, languages: np.ndarray, relevant: np.ndarray) -> dict:
    return {
        lang: _prf(truth[languages == lang], pred[languages == lang])
        | {"relevant": int(relevant[languages == lang].sum())}
        for lang in sorted(set(languages))
    }


def _kinds(
    articles: Sequence[Any], predicted: list[dict], truth: np.ndarray, pred: np.ndarray
) -> dict[str, Any]:
    """Errors by what happened to the exit (:func:`_kind`), with up to three examples each."""
    kinds: dict[str, Any] = {}
    for kind in dict.fromkeys(_kind(a) for a in articles):
        at = [i for i, a in enumerate(articles) if _kind(a) == kind]
        wrong = [i for i in at if pred[i] != truth[i]]
        category_wrong = [i for i in at if predicted[i]["category"]["label"] != articles[i].category.value]
        kinds[kind] = {
            "n": len(at),
            "is_btr_errors": len(wrong),
            "category_errors": len(category_wrong),
            "examples": [
                {
                    "id": articles[i].id,
                    "language": articles[i].language.value,
                    "headline": articles[i].headline,
                    "category": articles[i].category.value,
                    "predicted": predicted[i]["category"]["label"],
                    "exit_status": predicted[i].get("exit_status", {}).get("label"),
                }
                for i in (wrong or category_wrong)[:3]
            ],
        }
    return kinds


def _trigger_scores(articles: Sequence[Any], predicted: list[dict]) -> dict[str, Any]:
    """Trigger macro-F1 and accuracy on the relevant articles whose trigger is not ``none``."""
    from sklearn.metrics import f1_score

    at = [i for i, a in enumerate(articles) if a.category.value != "unrelated" and a.trigger.value != "none"]
    truth = [articles[i].trigger.value for i in at]
    pred = [predicted[i]["trigger"]["label"] for i in at]
    if not at:
        return {"n": 0, "macro_f1": float("nan"), "accuracy": float("nan")}
    return {
        "n": len(at),
        "macro_f1": float(f1_score(truth, pred, average="macro", labels=sorted(set(truth)), zero_division=0)),
        "accuracy": float(np.mean([t == p for t, p in zip(truth, pred, strict=True)])),
    }


def _category_scores(articles: Sequence[Any], predicted: list[dict]) -> dict[str, Any]:
    """Category macro-F1 over all articles and the confusion matrix (rows: true, columns: predicted)."""
    from sklearn.metrics import confusion_matrix, f1_score

    from btr.schema import HEADS, label_names

    truth = [a.category.value for a in articles]
    pred = [p["category"]["label"] for p in predicted]
    labels = [name for name in label_names(HEADS["category"]) if name in set(truth) | set(pred)]
    return {
        "macro_f1": float(f1_score(truth, pred, average="macro", labels=sorted(set(truth)), zero_division=0)),
        "labels": labels,
        "confusion": confusion_matrix(truth, pred, labels=labels).tolist(),
    }


def _gate_scores(articles: Sequence[Any], texts: list[str], cases: Sequence[Any]) -> dict[str, Any]:
    """The lexicon gate's recall on relevant articles and corpus texts, and its pass rate on unrelated news."""
    from btr.lexicon import mentions_exit

    relevant = np.array([a.category.value != "unrelated" for a in articles])
    gate_news = mentions_exit(texts)
    corpus_texts = [t for c in cases for _, t in c.text.items()]
    gate_corpus = mentions_exit(corpus_texts)
    return {
        "recall_news": float(gate_news[relevant].mean()) if relevant.any() else float("nan"),
        "recall_corpus": float(gate_corpus.mean()) if len(corpus_texts) else float("nan"),
        "corpus_texts": len(corpus_texts),
        "pass_rate_unrelated": float(gate_news[~relevant].mean()) if (~relevant).any() else float("nan"),
        "missed": [articles[i].id for i in np.flatnonzero(relevant & ~gate_news)],
        "floor": _GATE_FLOOR,
    }


def _keyword_baseline(texts: list[str], truth: np.ndarray, unrelated: np.ndarray) -> dict[str, Any]:
    from btr.rules import predict_rules

    keyword = np.array([label == "btr" for label in predict_rules(texts)["category"]])
    return {
        "keyword": _prf(truth, keyword),
        "keyword_fp_rate_unrelated": float(keyword[unrelated].mean()) if unrelated.any() else float("nan"),
    }


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """What ``meta.json`` and the model card keep of a news report."""
    summary = {k: report[k] for k in ("overall", "fp_rate_unrelated", "precision_at_base_rate", "trigger")}
    summary["per_language_f1"] = {lang: r["f1"] for lang, r in report["per_language"].items()}
    summary["per_language_relevant"] = {lang: r["relevant"] for lang, r in report["per_language"].items()}
    summary["command"] = report["command"]
    summary["gate"] = {k: report["gate"][k] for k in ("recall_news", "recall_corpus", "pass_rate_unrelated")}
    summary["kinds"] = {
        k: {"n": v["n"], "is_btr_errors": v["is_btr_errors"]} for k, v in report["kinds"].items()
    }
    summary["news"] = report["news"]
    summary["news_sha256"] = report["news_sha256"]
    return summary


def _fmt(value: float, digits: int = 3) -> str:
    return "  n/a" if value != value else f"{value:.{digits}f}"


def _confusion_lines(category: dict[str, Any]) -> list[str]:
    labels = category["labels"]
    short = [label[:10] for label in labels]
    lines = [f"{'':<20}" + "".join(f"{name:>11}" for name in short)]
    for label, row in zip(labels, category["confusion"], strict=True):
        lines.append(f"{label:<20}" + "".join(f"{n:>11}" for n in row))
    return lines


def news_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table for the terminal."""
    o = report["overall"]
    lines = [
        f"news evaluation: {report['news']} ({report['n_articles']} articles: {report['n_relevant']} relevant, "
        f"{report['n_unrelated']} unrelated), model {report['model_version']}",
        "",
        f"{'is_btr':<16}{'n':>6}{'relevant':>9}{'btr':>6}{'precision':>11}{'recall':>8}{'F1':>8}",
        f"{'all':<16}{o['n']:>6}{report['n_relevant']:>9}{o['positives']:>6}{_fmt(o['precision']):>11}"
        f"{_fmt(o['recall']):>8}{_fmt(o['f1']):>8}",
    ]
    for lang, r in report["per_language"].items():
        lines.append(
            f"{lang:<16}{r['n']:>6}{r['relevant']:>9}{r['positives']:>6}{_fmt(r['precision']):>11}"
            f"{_fmt(r['recall']):>8}{_fmt(r['f1']):>8}"
        )
    k = report["baseline"]["keyword"]
    lines += [
        f"{'keyword rules':<16}{k['n']:>6}{'':>9}{k['positives']:>6}{_fmt(k['precision']):>11}"
        f"{_fmt(k['recall']):>8}{_fmt(k['f1']):>8}",
        "",
        f"false-positive rate on unrelated articles (is_btr): {_fmt(report['fp_rate_unrelated'], 4)}"
        f"  (keyword rules {_fmt(report['baseline']['keyword_fp_rate_unrelated'], 4)});"
        f" tagged anything but unrelated: {_fmt(report['flagged_rate_unrelated'], 4)}",
        f"expected precision at a base rate of 1 in {round(1 / report['base_rate']):,}:"
        f" {_fmt(report['precision_at_base_rate'])}",
        f"trigger macro-F1 on relevant articles with a blamed event: {_fmt(report['trigger']['macro_f1'])}"
        f" (n {report['trigger']['n']}, accuracy {_fmt(report['trigger']['accuracy'])})",
        f"lexicon gate: recall {_fmt(report['gate']['recall_news'], 4)} on relevant news,"
        f" {_fmt(report['gate']['recall_corpus'], 4)} on {report['gate']['corpus_texts']} corpus texts"
        f" (floor {report['gate']['floor']}); lets through {_fmt(report['gate']['pass_rate_unrelated'])}"
        " of unrelated news",
        "",
        f"category macro-F1: {_fmt(report['category']['macro_f1'])}; confusion (rows true, columns predicted):",
        *_confusion_lines(report["category"]),
        "",
        f"{'errors by kind':<24}{'n':>6}{'is_btr wrong':>14}{'category wrong':>16}",
    ]
    for kind, r in report["kinds"].items():
        lines.append(f"{kind:<24}{r['n']:>6}{r['is_btr_errors']:>14}{r['category_errors']:>16}")
    for kind, r in report["kinds"].items():
        for ex in r["examples"][:1]:
            lines.append(
                f"  e.g. {kind}: {ex['id']} [{ex['language']}] {ex['headline'][:60]!r}"
                f" {ex['category']} -> {ex['predicted']}"
            )
    return "\n".join(lines)
