"""What was pushed and pulled, per project: the state file, and the dotted-path access to case records."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from btr.errors import InputError
from btr.files import get_path
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


def _norm(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _base(record: dict[str, Any]) -> dict[str, str | None]:
    return {f.name: _norm(get_path(record, f.path)) for f in _MERGED}
