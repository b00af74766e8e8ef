"""The three-way merge of a pull, as pure functions over plain dicts.

For each field an annotation decides (``remote``), the local record's value (``mine``)
and the value seen at the last push or pull (``base``) give one of five answers:

- remote equals mine: nothing to do;
- base equals remote: the annotation was merged before and the local value is a deliberate
  edit since: keep mine;
- base equals mine: only the annotation changed: take remote;
- otherwise (no base, or both changed): a conflict, reported, and the local value kept; the
  base moves to remote so that the same conflict is not reported again.

Nothing here talks to a server or a file, so every branch has a fast unit test
(``tests/test_labelstudio_merge.py``); the server tests check the wiring in :func:`btr.labelstudio.pull`.
"""

from __future__ import annotations

import copy
from typing import Any

from btr.files import get_path, set_path
from btr.labelstudio.config import _BY_NAME, _MERGED
from btr.labelstudio.state import _base, _norm

__all__ = ["merge_annotations", "merge_notes", "merge_values", "next_base"]


def merge_values(
    record: dict[str, Any], decided: dict[str, Any], base: dict[str, str | None]
) -> tuple[dict[str, Any], dict[str, str | None], list[dict[str, Any]]]:
    """Merge the decided values of one task into a copy of the local record.

    Parameters
    ----------
    record : dict
        The local case record (``Case.to_json()``); not modified.
    decided : dict
        ``{field name: value}`` decided from the annotations.
    base : dict
        ``{field name: value}`` seen at the last push or pull (strings or None).

    Returns
    -------
    record, base, conflicts
        The merged copy, the updated base, and one ``{"kind": "local_edit", "field", "local",
        "remote", "base"}`` per field left as it was.
    """
    record, base, conflicts = copy.deepcopy(record), dict(base), []
    for f in _MERGED:
        remote = _norm(decided.get(f.name))
        if remote is None:
            continue
        mine = _norm(get_path(record, f.path))
        if remote == mine:
            continue
        if f.name in base and base[f.name] == remote:
            continue  # seen before: the local value is a deliberate edit
        if f.name in base and base[f.name] == mine:
            set_path(record, f.path, decided[f.name], create=True)
            continue
        conflicts.append(
            {"kind": "local_edit", "field": f.name, "local": mine, "remote": remote, "base": base.get(f.name)}
        )
        base[f.name] = remote
    return record, base, conflicts


def merge_annotations(annotations: list[dict[str, Any]], fresh: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The record's annotations with this pull's: curation ones kept, a Label Studio annotator's
    earlier annotation replaced by the fresh one, other annotators' kept."""
    kept = [a for a in annotations if a.get("origin") != "label_studio"]
    fresh_by = {b["annotator"] for b in fresh}
    others = [a for a in annotations if a.get("origin") == "label_studio" and a["annotator"] not in fresh_by]
    return kept + others + list(fresh)


def merge_notes(notes: str, new: list[str]) -> str:
    """``notes`` with each new note appended once."""
    for note in new:
        if note not in notes:
            notes = f"{notes}\n{note}".strip()
    return notes


def next_base(record: dict[str, Any], base: dict[str, str | None]) -> dict[str, str | None]:
    """The base to store after a merge: the record's values, except where a conflict left the
    local value standing (the base then remembers the remote value already reported)."""
    return {
        **_base(record),
        **{k: v for k, v in base.items() if _norm(get_path(record, _BY_NAME[k].path)) != v},
    }
