"""Reading annotations out of an export, and deciding a value from several annotators."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from btr.labelstudio.config import _BY_NAME, _CHOICE_FIELDS
from btr.labelstudio.tasks import _task_key

# ----------------------------------------------------------------------------- export parsing


def _result_values(result: list[dict[str, Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in result or []:
        name, value = item.get("from_name"), item.get("value") or {}
        if name not in _BY_NAME and name != "notes":
            continue
        if value.get("choices"):
            values[name] = str(value["choices"][0])
        elif "text" in value:
            text = value["text"]
            text = "\n".join(map(str, text)) if isinstance(text, list) else str(text)
            if text.strip():
                values[name] = text.strip()
        elif "number" in value and value["number"] is not None:
            values[name] = int(value["number"])
    return values


def _annotator(annotation: dict[str, Any], users: dict[int, str]) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        return who.get("email") or str(who.get("id"))
    return users.get(who, f"user-{who}")


def _latest_annotations(task: dict[str, Any], users: dict[int, str]) -> tuple[dict[str, dict[str, Any]], int]:
    """The latest kept annotation per annotator, and how many were dropped as skipped or cancelled."""
    latest: dict[str, dict[str, Any]] = {}
    dropped = 0
    for annotation in task.get("annotations") or []:
        if annotation.get("was_cancelled") or not annotation.get("result"):
            dropped += 1
            continue
        who = _annotator(annotation, users)
        stamp = (
            annotation.get("updated_at") or annotation.get("created_at") or "",
            annotation.get("id") or 0,
        )
        if who not in latest or stamp >= latest[who]["_stamp"]:
            latest[who] = {
                "_stamp": stamp,
                "ground_truth": bool(annotation.get("ground_truth")),
                "values": _result_values(annotation["result"]),
            }
    return latest, dropped


def _item_id(task: dict[str, Any]) -> str:
    data = task.get("data") or {}
    return _task_key(data) or f"task:{task.get('id')}"


def export_ratings(
    tasks: Iterable[dict[str, Any]], users: dict[int, str] | None = None
) -> list[tuple[str, str, str, str]]:
    """The long table ``(item, annotator, field, label)`` of every choice in a full JSON export."""
    rows = []
    for task in tasks:
        latest, _ = _latest_annotations(task, users or {})
        for who, annotation in latest.items():
            for name, value in annotation["values"].items():
                if name in _CHOICE_FIELDS:
                    rows.append((_item_id(task), who, name, str(value)))
    return rows


def _adjudicate(
    latest: dict[str, dict[str, Any]], name: str, *, free_text: bool = False
) -> tuple[Any, dict[str, Any]]:
    """The value of one field by the adjudication rule, or None; with each annotator's value.

    ``free_text`` fields (what an annotator writes for a new case: names,
    posts, summaries) rarely match word for word: without a ground truth the
    latest annotation's text is taken, and the new case stays unverified.
    """
    votes = {who: a["values"][name] for who, a in latest.items() if name in a["values"]}
    if not votes:
        return None, votes
    starred = [a for a in latest.values() if a["ground_truth"] and name in a["values"]]
    pool = [a["values"][name] for a in starred] or list(votes.values())
    value, count = Counter(map(str, pool)).most_common(1)[0]
    if count * 2 > len(pool):
        return next(v for v in pool if str(v) == value), votes
    if free_text:
        newest = max(
            starred or [a for a in latest.values() if name in a["values"]], key=lambda a: a["_stamp"]
        )
        return newest["values"][name], votes
    return _DISAGREE, votes


def decide(
    latest: dict[str, dict[str, Any]], data: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Every field's value by the adjudication rule, and the fields annotators disagree on.

    Returns ``(decided, disagreements)``: ``{field: value}`` and ``{field: {annotator: value}}``.
    The free-text fields of a new case from an article take the latest annotation's text.
    """
    decided: dict[str, Any] = {}
    disagreements: dict[str, dict[str, Any]] = {}
    for name, spec in _BY_NAME.items():
        free_text = spec.new_case_only and spec.kind == "text" and data.get("kind") == "article"
        value, votes = _adjudicate(latest, name, free_text=free_text)
        if value is _DISAGREE:
            disagreements[name] = votes
        elif value is not None:
            decided[name] = value
    return decided, disagreements


def _notes(latest: dict[str, dict[str, Any]]) -> list[str]:
    """Every annotator's note, signed (notes are kept, never adjudicated)."""
    return [
        f"[{who}] {a['values']['notes']}" for who, a in sorted(latest.items()) if a["values"].get("notes")
    ]


_DISAGREE = object()
