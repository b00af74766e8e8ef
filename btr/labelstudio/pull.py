"""Pull annotations back into the corpus: adjudicate, merge three ways, never overwrite silently."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from btr.errors import InputError
from btr.files import set_path, validation_message, write_json_atomic, write_jsonl_atomic
from btr.labelstudio.adjudication import _latest_annotations, _notes, decide, export_ratings
from btr.labelstudio.client import _export, _read_export, _require_project, connect
from btr.labelstudio.config import FIELDS, STATE_DIR
from btr.labelstudio.merge import merge_annotations, merge_notes, merge_values, next_base
from btr.labelstudio.state import _base, _load_state, _state_path
from btr.schema import (
    HEADS,
    Annotation,
    Case,
    Language,
    label_names,
)

# ----------------------------------------------------------------------------- pull


@dataclass
class PullResult:
    """What a pull did. ``conflicts`` are also written to ``conflicts_path``."""

    tasks: int = 0  # tasks exported: those with an annotation that is not skipped
    annotated_tasks: int = 0
    dropped_annotations: int = 0
    updated_cases: list[str] = field(default_factory=list)
    new_cases: list[str] = field(default_factory=list)
    articles_not_cases: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    conflicts_path: Path | None = None
    written: Path | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _new_case_id(values: dict[str, Any], data: dict[str, Any], taken: set[str]) -> str:
    year = ""
    for name in ("event_date", "announced"):
        if values.get(name):
            year = str(values[name])[:4]
            break
    year = year or str(data.get("date") or "")[:4] or "0000"
    base = f"{str(values.get('country', 'xx')).lower()}-{year}-{_slug(str(values.get('official_name_en', 'unknown')))}"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _case_from_article(
    data: dict[str, Any], values: dict[str, Any], case_id: str, task_id: int
) -> dict[str, Any]:
    record: dict[str, Any] = {"id": case_id, "event_id": values.get("event_id") or case_id}
    for f in FIELDS:
        if f.name in values and f.name != "event_id":
            set_path(record, f.path, values[f.name], create=True)
    source = {
        "url": data.get("url") or None,
        "publisher": data.get("publisher") or None,
        "title": data.get("title") or None,
    }
    if data.get("date"):
        source["date"] = data["date"]
    if data.get("language") in label_names(Language):
        source["language"] = data["language"]
    record["sources"] = [source]
    record["curation"] = {
        "verified": False,
        "notes": f"From article {data.get('article_id')} (Label Studio task {task_id}).",
        "annotations": [],
    }
    return record


def _annotations_for(latest: dict[str, dict[str, Any]], blind: bool) -> list[dict[str, Any]]:
    # heads added after an annotation was made (exit_status) are optional in Annotation
    required = [h for h in HEADS if Annotation.model_fields[h].is_required()]
    out = []
    for who, a in sorted(latest.items()):
        if all(head in a["values"] for head in required):
            annotation = Annotation(
                annotator=who,
                **{h: a["values"][h] for h in HEADS if h in a["values"]},
                origin="label_studio",
                blind=blind,
            )
            # serialised as the corpus writes it, so that a second pull compares equal
            out.append(annotation.model_dump(mode="json"))
    return out


def pull(
    project: str,
    *,
    into: str | Path | None = None,
    export: str | Path | None = None,
    conflicts: str | Path | None = None,
    url: str | None = None,
    api_key: str | None = None,
    state_dir: str | Path = STATE_DIR,
) -> PullResult:
    """Export the project's annotations (full JSON) and merge them into the corpus atomically.

    Agreeing annotations become labels; the adjudication rule and the
    three-way merge with local edits are in the module docstring. Annotations
    with all four heads are also kept in ``curation.annotations``
    (``origin="label_studio"``). An article task whose annotations name the
    official becomes a new case with the article as its source.

    Parameters
    ----------
    project : str
        Project title.
    into : path, optional
        The corpus to merge into (default: the corpus).
    export : path, optional
        Merge a saved full JSON export instead of asking the server.
    conflicts : path, optional
        Conflicts file (default ``<state_dir>/<project>.conflicts.jsonl``).

    Returns
    -------
    PullResult
        The caller decides what conflicts mean (the CLI exits with 3).
    """
    from btr.corpus import DEFAULT_CORPUS, load_cases, write_cases

    into = Path(into or DEFAULT_CORPUS)
    if export is not None:
        # A saved export says which project it came from, not which server: the state is matched by project id.
        tasks, users = _read_export(export), {}
        state_url, pid = None, next((t.get("project") for t in tasks if t.get("project")), 0)
    else:
        conn = connect(url, api_key)
        pid = _require_project(conn, project)
        tasks, users = _export(conn, pid)
        state_url = conn.url
    state_file = _state_path(Path(state_dir), project)
    state = _load_state(state_file, state_url, pid)
    conflicts_path = Path(conflicts) if conflicts else state_file.with_suffix(".conflicts.jsonl")

    loaded = {case.id: case for case in (load_cases(into) if into.exists() else [])}
    local = {cid: case.to_json() for cid, case in loaded.items()}
    original = {cid: json.dumps(rec, sort_keys=True) for cid, rec in local.items()}
    result = PullResult(tasks=len(tasks), conflicts_path=conflicts_path)

    for task in tasks:
        _pull_task(task, users, state, local, result)

    changed = [cid for cid, rec in local.items() if original.get(cid) != json.dumps(rec, sort_keys=True)]
    result.updated_cases = sorted(cid for cid in changed if cid in original)
    if changed:
        redo = set(changed)
        merged = [Case.model_validate(rec) if cid in redo else loaded[cid] for cid, rec in local.items()]
        result.written = write_cases(merged, into)
    if state["url"] is not None:
        write_json_atomic(state_file, state, sort_keys=True)
    _write_conflicts(conflicts_path, result.conflicts)
    return result


def _write_conflicts(path: Path, conflicts: list[dict[str, Any]]) -> None:
    if not conflicts:
        path.unlink(missing_ok=True)
        return
    write_jsonl_atomic(path, conflicts, sort_keys=True)


def _pull_task(
    task: dict[str, Any],
    users: dict[int, str],
    state: dict[str, Any],
    local: dict[str, dict[str, Any]],
    result: PullResult,
) -> None:
    """Merge one task's annotations into ``local`` (records by id) and ``state``, noting conflicts."""

    def conflict(kind: str, cid: str | None, **extra: Any) -> None:
        result.conflicts.append({"kind": kind, "id": cid, "task_id": task.get("id"), **extra})

    data = task.get("data") or {}
    latest, dropped = _latest_annotations(task, users)
    result.dropped_annotations += dropped
    if not latest:
        return
    result.annotated_tasks += 1
    decided, disagreements = decide(latest, data)
    for name, votes in disagreements.items():
        conflict("disagreement", data.get("case_id") or data.get("article_id"), field=name, annotations=votes)
    blind = not task.get("predictions")
    if data.get("kind") == "article":
        aid = str(data.get("article_id"))
        cid = state["articles"].get(aid)
        if cid is None:
            _new_case(task, data, decided, latest, blind, state, local, result, conflict)
            return
    else:
        cid = data.get("case_id")
    if cid not in local:
        conflict(
            "deleted_locally",
            cid,
            message="the case is no longer in the corpus; its annotations were not merged",
        )
        return
    entry = state["cases"].setdefault(cid, {"task_id": task.get("id"), "base": {}})
    record, base, edits = merge_values(local[cid], decided, entry.get("base") or {})
    for edit in edits:
        conflict(edit.pop("kind"), cid, **edit)
    curation = record["curation"]
    curation["annotations"] = merge_annotations(curation["annotations"], _annotations_for(latest, blind))
    curation["notes"] = merge_notes(curation["notes"], _notes(latest))
    problem = _invalid(record)
    if problem:
        conflict("invalid", cid, message=f"merged record fails validation, kept as it was: {problem}")
        entry["base"] = base
        return
    local[cid] = record
    entry["base"] = next_base(record, base)


def _new_case(
    task: dict[str, Any],
    data: dict[str, Any],
    decided: dict[str, Any],
    latest: dict[str, dict[str, Any]],
    blind: bool,
    state: dict[str, Any],
    local: dict[str, dict[str, Any]],
    result: PullResult,
    conflict: Callable[..., None],
) -> None:
    """An article task whose annotations name the official becomes a new case."""
    aid = str(data.get("article_id"))
    if not decided.get("official_name_en"):
        result.articles_not_cases += 1
        return
    cid = _new_case_id(decided, data, set(local))
    record = _case_from_article(data, decided, cid, task.get("id"))
    record["curation"]["annotations"] = _annotations_for(latest, blind)
    record["curation"]["notes"] = "\n".join([record["curation"]["notes"], *_notes(latest)])
    problem = _invalid(record)
    if problem:
        conflict("invalid", None, article_id=aid, message=f"cannot make a case: {problem}")
        return
    local[cid] = record
    state["articles"][aid] = cid
    state["cases"][cid] = {"task_id": task.get("id"), "base": _base(record)}
    result.new_cases.append(cid)


def _invalid(record: dict[str, Any]) -> str | None:
    """Why ``record`` is not a valid case, or None."""
    try:
        Case.model_validate(record)
    except ValidationError as err:
        return validation_message(err)
    return None


def agreement_report(
    project: str | None = None,
    *,
    export: str | Path | None = None,
    url: str | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    """Agreement (:func:`btr.agreement.agreement`) on a project's annotations or on a full JSON export."""
    from btr.agreement import agreement

    if export is not None:
        tasks, users = _read_export(export), {}
    elif project:
        conn = connect(url, api_key)
        tasks, users = _export(conn, _require_project(conn, project))
    else:
        raise InputError("give --project or --export")
    return agreement(export_ratings(tasks, users))
