"""Push cases and articles as tasks, with model pre-annotations."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from btr.errors import InputError, ModelError
from btr.files import write_json_atomic
from btr.labelstudio.client import _list_tasks, _service, connect, ensure_project
from btr.labelstudio.config import _BY_NAME, _TO, STATE_DIR
from btr.labelstudio.state import _base, _load_state, _state_path
from btr.labelstudio.tasks import _task_key, article_task_data, case_task_data, read_articles
from btr.settings import quiet_default

# ----------------------------------------------------------------------------- push


@dataclass
class PushResult:
    """What a push did; ``predictions`` counts the tasks that got pre-annotations."""

    project_id: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    predictions: int = 0
    skipped_certain: int = 0
    model_version: str | None = None


def _model_version(model: Any) -> str:
    return model.version if model.name in model.version else f"{model.name}-{model.version}"


def _model_predictions(model: Any, items: list[tuple[str, list[str]]]) -> list[dict[str, Any]]:
    """One prediction per item from its texts (probabilities averaged over a case's languages)."""
    import numpy as np

    flat = [text for _, texts in items for text in texts]
    try:
        proba = model.predict_proba(flat)
    except (AttributeError, KeyError, ValueError, TypeError) as err:
        # A model saved by another version of btr loads but cannot predict: say so instead of a traceback.
        raise ModelError(
            f"model {getattr(model, 'path', model)!r} failed to predict ({type(err).__name__}: {err}); "
            "retrain it with this version of btr"
        ) from err
    version = _model_version(model)
    out, start = [], 0
    for _, texts in items:
        stop = start + len(texts)
        result, heads = [], {}
        for head, labels in model.heads.items():
            if head not in _BY_NAME:
                continue
            p = np.asarray(proba[head][start:stop]).mean(axis=0)
            best = int(p.argmax())
            heads[head] = p
            result.append(
                {
                    "from_name": head,
                    "to_name": _TO,
                    "type": "choices",
                    "value": {"choices": [labels[best]]},
                    "score": round(float(p[best]), 4),
                }
            )
        category = heads.get("category", next(iter(heads.values())))
        out.append(
            {
                "model_version": version,
                "score": round(float(category.max()), 4),
                "result": result,
                "_p": category,
            }
        )
        start = stop
    return out


def _uncertainty(p: Any, how: str) -> float:
    import numpy as np

    if how == "entropy":
        q = np.clip(p, 1e-12, 1.0)
        return float(-(q * np.log(q)).sum())
    top = np.sort(p)[::-1]
    return float(-(top[0] - (top[1] if len(top) > 1 else 0.0)))


def push(
    project: str,
    *,
    cases: str | Path | None = None,
    articles: str | Path | None = None,
    model: str | Path | None = None,
    only_uncertain: int | None = None,
    uncertainty: str = "margin",
    url: str | None = None,
    api_key: str | None = None,
    state_dir: str | Path = STATE_DIR,
    batch_size: int = 500,
    quiet: bool | None = None,
) -> PushResult:
    """Create the project if needed and import cases or articles as tasks, idempotently.

    Parameters
    ----------
    project : str
        Project title.
    cases, articles : path, optional
        A corpus JSONL (default: the corpus) or a JSONL of articles (see
        :func:`read_articles`); not both.
    model : path, optional
        A model directory (:func:`btr.models.load_model`); its predictions
        become pre-annotations with its version and score.
    only_uncertain : int, optional
        Import only the N new items the model is least sure of about
        ``category`` (``uncertainty``: ``margin`` or ``entropy``).
    url, api_key : str, optional
        Default to ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY``.
    state_dir : path
        Where the state file goes (see the module docstring).

    Returns
    -------
    PushResult
    """
    from tqdm import tqdm

    if cases is not None and articles is not None:
        raise InputError("give --cases or --articles, not both")
    if only_uncertain is not None and model is None:
        raise InputError("--only-uncertain needs a model to be uncertain (--model)")
    if uncertainty not in ("margin", "entropy"):
        raise InputError(f"unknown uncertainty {uncertainty!r}; use margin or entropy")
    loaded = None
    if model is not None:
        from btr.models import load_model

        loaded = load_model(model)
    records = _records(cases, articles)
    conn = connect(url, api_key)
    pid = ensure_project(conn, project)
    state_file = _state_path(Path(state_dir), project)
    state = _load_state(state_file, conn.url, pid)
    result = PushResult(project_id=pid)
    new, changed = _sort_records(records, _list_tasks(conn, pid), state, result)
    predictions: dict[str, dict[str, Any]] = {}
    if loaded is not None and (new or changed):
        todo = [(_task_key(d), t) for d, t, _ in new] + [(_task_key(d), t) for _, d, t, _ in changed]
        predictions = {
            key: pred for (key, _), pred in zip(todo, _model_predictions(loaded, todo), strict=True)
        }
        result.model_version = _model_version(loaded)
        if only_uncertain is not None:
            ranked = sorted(new, key=lambda r: -_uncertainty(predictions[_task_key(r[0])]["_p"], uncertainty))
            result.skipped_certain = max(0, len(new) - only_uncertain)
            new = ranked[:only_uncertain]
    total = len(new) + len(changed)
    with (
        tqdm(
            total=total, desc="push", unit="task", disable=quiet_default(quiet) or not total, file=sys.stderr
        ) as bar,
        _service(conn.url, "the task import"),
    ):
        _import_new(conn, pid, new, predictions, state, result, batch_size, bar)
        _update_changed(conn, changed, predictions, state, result, bar)
    write_json_atomic(state_file, state, sort_keys=True)
    return result


_Record = tuple[dict[str, Any], list[str], dict[str, Any] | None]  # task data, texts, case record


def _records(cases: str | Path | None, articles: str | Path | None) -> list[_Record]:
    from btr.corpus import DEFAULT_CORPUS, load_cases

    if articles is not None:
        return [(article_task_data(a), [a["text"]], None) for a in read_articles(articles)]
    return [
        (case_task_data(case), [text for _, text in case.text.items()], case.to_json())
        for case in load_cases(cases or DEFAULT_CORPUS)
    ]


def _sort_records(
    records: list[_Record], existing: dict[str, tuple[int, str]], state: dict[str, Any], result: PushResult
) -> tuple[list[_Record], list[tuple[int, dict, list[str], dict | None]]]:
    """New records, and changed ones with their task id; unchanged ones are counted (and a case
    pushed before this state file existed gets its base recorded)."""
    new, changed = [], []
    for data, texts, record in records:
        key = _task_key(data)
        if key not in existing:
            new.append((data, texts, record))
        elif existing[key][1] != data["btr_hash"]:
            changed.append((existing[key][0], data, texts, record))
        else:
            result.unchanged += 1
            if record is not None and record["id"] not in state["cases"]:
                state["cases"][record["id"]] = {"task_id": existing[key][0], "base": _base(record)}
    return new, changed


def _clean(pred: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in pred.items() if k != "_p"}


def _import_new(conn, pid, new, predictions, state, result: PushResult, batch_size: int, bar) -> None:
    for start in range(0, len(new), batch_size):
        batch = new[start : start + batch_size]
        payload = []
        for data, _, _ in batch:
            task: dict[str, Any] = {"data": data}
            if _task_key(data) in predictions:
                task["predictions"] = [_clean(predictions[_task_key(data)])]
            payload.append(task)
        response = conn.client.projects.import_tasks(id=pid, request=payload, return_task_ids=True)
        for (_, _, record), task_id in zip(batch, list(response.task_ids or []), strict=True):
            if record is not None:
                state["cases"][record["id"]] = {"task_id": task_id, "base": _base(record)}
        result.created += len(batch)
        result.predictions += sum(_task_key(d) in predictions for d, _, _ in batch)
        bar.update(len(batch))


def _update_changed(conn, changed, predictions, state, result: PushResult, bar) -> None:
    for task_id, data, _, record in changed:
        conn.client.tasks.update(id=str(task_id), data=data)
        if _task_key(data) in predictions:
            conn.client.predictions.create(task=task_id, **_clean(predictions[_task_key(data)]))
            result.predictions += 1
        if record is not None:
            # The base is the last point where labels were in sync with Label Studio; a new
            # text does not move it, or a later pull would take a label edited locally since
            # for unchanged and overwrite it.
            known = state["cases"].get(record["id"])
            base = known["base"] if known and known.get("task_id") == task_id else _base(record)
            state["cases"][record["id"]] = {"task_id": task_id, "base": base}
        result.updated += 1
        bar.update(1)
