"""What was pushed and pulled, per project: the state file, and the dotted-path access to case records."""

from __future__ import annotations

import itertools
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from btr.errors import InputError
from btr.labelstudio.config import _MERGED

# ----------------------------------------------------------------------------- state


def _state_path(state_dir: Path, project: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", project).strip("-") or "project"
    return Path(state_dir) / f"{slug}.json"


def _load_state(path: Path, url: str | None, pid: int) -> dict[str, Any]:
    """The state of ``path``; empty when it belongs to another server (``url``) or project."""
    empty = {"url": url, "project_id": pid, "cases": {}, "articles": {}}
    if not path.exists():
        return empty
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: unreadable state file ({err}); delete it to start afresh") from err
    if (url is not None and state.get("url") != url) or state.get("project_id") != pid:
        # Another server or a recreated project: its bases say nothing about this one.
        return empty
    state.setdefault("cases", {})
    state.setdefault("articles", {})
    return state


def _write_json_atomic(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, ensure_ascii=False, indent=1, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def _get(record: dict[str, Any], path: tuple[str | int, ...]) -> Any:
    node: Any = record
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or len(node) <= part:
                return None
        elif not isinstance(node, dict):
            return None
        node = node[part] if isinstance(part, int) else node.get(part)
    return node


def _set(record: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = record
    for part, nxt in itertools.pairwise(path):
        if isinstance(part, int):
            while len(node) <= part:
                node.append({})
            node = node[part]
        else:
            if node.get(part) is None:
                node[part] = [] if isinstance(nxt, int) else {}
            node = node[part]
    node[path[-1]] = value


def _norm(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _base(record: dict[str, Any]) -> dict[str, str | None]:
    return {f.name: _norm(_get(record, f.path)) for f in _MERGED}
