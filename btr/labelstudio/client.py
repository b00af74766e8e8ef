"""The connection to a Label Studio server (token from the environment, never printed), projects, tasks and exports."""

from __future__ import annotations

import contextlib
import html
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from btr.errors import InputError, ServiceError, require
from btr.labelstudio.config import guidelines_summary, labeling_config
from btr.labelstudio.tasks import _task_key

# ----------------------------------------------------------------------------- connection


@contextlib.contextmanager
def _service(url: str, what: str) -> Iterator[None]:
    """Turn the SDK's and httpx's exceptions into one clear :class:`ServiceError` line."""
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    try:
        yield
    except ApiError as err:
        if err.status_code == 401:
            raise ServiceError(
                f"Label Studio at {url} rejected the API key (401): check LABEL_STUDIO_API_KEY"
            ) from None
        if err.status_code == 403:
            raise ServiceError(
                f"Label Studio at {url} refused {what} (403): the API key lacks permission"
            ) from None
        raise ServiceError(
            f"Label Studio at {url} refused {what} ({err.status_code}): {_body_message(err.body)}"
        ) from None
    except (httpx.ConnectError, httpx.ConnectTimeout) as err:
        raise ServiceError(
            f"Label Studio is unreachable at {url}: {err}; start it with `btr annotate serve`"
        ) from None
    except httpx.HTTPError as err:
        raise ServiceError(
            f"Label Studio at {url} failed during {what}: {type(err).__name__}: {err}"
        ) from None


def _body_message(body: Any) -> str:
    if isinstance(body, dict):
        detail = body.get("validation_errors") or body.get("detail") or body
        if isinstance(detail, dict):
            detail = "; ".join(
                f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in detail.items()
            )
        return " ".join(str(detail).split())[:600]
    return " ".join(str(body).split())[:600]


@dataclass
class Connection:
    """An authenticated client; ``repr`` never shows the key."""

    url: str
    client: Any = field(repr=False)


def connect(url: str | None = None, api_key: str | None = None) -> Connection:
    """Connect to Label Studio and check the key.

    ``url`` and ``api_key`` default to ``LABEL_STUDIO_URL`` and
    ``LABEL_STUDIO_API_KEY``. Raises :class:`ServiceError` (exit 4) when the
    server is unreachable or the key is wrong; the key is never printed.
    """
    require("label_studio_sdk", "labelstudio")
    from label_studio_sdk import LabelStudio

    url = (url or os.environ.get("LABEL_STUDIO_URL") or "http://127.0.0.1:8080").rstrip("/")
    api_key = api_key or os.environ.get("LABEL_STUDIO_API_KEY")
    if not api_key:
        raise ServiceError("no Label Studio API key: set LABEL_STUDIO_API_KEY or pass --api-key")
    client = LabelStudio(base_url=url, api_key=api_key, timeout=300)
    with _service(url, "the API key check"):
        client.users.whoami()
    return Connection(url, client)


def _find_project(conn: Connection, name: str) -> int | None:
    with _service(conn.url, "the project list"):
        found = [p for p in conn.client.projects.list(title=name, page_size=100) if p.title == name]
    if len(found) > 1:
        raise ServiceError(f"{len(found)} projects are titled {name!r} on {conn.url}; rename all but one")
    return found[0].id if found else None


def _require_project(conn: Connection, name: str) -> int:
    pid = _find_project(conn, name)
    if pid is None:
        raise ServiceError(f"project {name!r} not found on {conn.url}")
    return pid


def ensure_project(conn: Connection, name: str, *, config: str | None = None) -> int:
    """Return the id of project ``name``, creating it (or updating its config) from the schema.

    ``config`` replaces the generated labeling config. A config Label Studio
    rejects raises :class:`ServiceError` with Label Studio's own message.
    """
    if not 3 <= len(name) <= 50:
        raise InputError(f"project name {name!r} must have 3 to 50 characters (a Label Studio limit)")
    config = config or labeling_config()
    instruction = "<p>" + html.escape(guidelines_summary()).replace("\n", "<br>") + "</p>"
    pid = _find_project(conn, name)
    with _service(conn.url, "the labeling config"):
        if pid is None:
            project = conn.client.projects.create(
                title=name, label_config=config, expert_instruction=instruction, show_instruction=True
            )
            return project.id
        current = conn.client.projects.get(id=pid)
        if current.label_config != config:
            conn.client.projects.update(id=pid, label_config=config, expert_instruction=instruction)
    return pid


def _list_tasks(conn: Connection, pid: int) -> dict[str, tuple[int, str]]:
    """Map each task key to ``(task id, btr_hash)``."""
    found: dict[str, tuple[int, str]] = {}
    with _service(conn.url, "the task list"):
        # id and data only: the default columns (agreement, annotators ...) take 4 times longer.
        for task in conn.client.tasks.list(
            project=pid, fields="task_only", include="id,data", page_size=1000
        ):
            data = task.data or {}
            key = _task_key(data)
            if key is not None:
                found[key] = (task.id, data.get("btr_hash", ""))
    return found


def _users(conn: Connection) -> dict[int, str]:
    with _service(conn.url, "the user list"):
        return {u.id: (u.email or u.username or f"user-{u.id}") for u in conn.client.users.list()}


def _export(
    conn: Connection, pid: int, *, annotated_only: bool = True, timeout: float = 600
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """A full JSON export through a snapshot (the direct export lists predictions by id only).

    With ``annotated_only`` (what pull and agreement need) only the tasks with
    at least one annotation that is not skipped are exported, filtered by the
    server: far faster when few of many tasks are annotated. Skipped and
    ground-truth annotations of those tasks are included.
    """
    exports = conn.client.projects.exports
    with _service(conn.url, "the export"):
        snap = exports.create(
            id=pid,
            title="btr pull",
            serialization_options={
                "predictions": {"only_id": False},
                "annotations__completed_by": {"only_id": False},
            },
            annotation_filter_options={"usual": True, "ground_truth": True, "skipped": True},
            **({"task_filter_options": {"annotated": "only"}} if annotated_only else {}),
        )
        began = time.monotonic()
        while snap.status not in ("completed", "failed"):
            if time.monotonic() - began > timeout:
                raise ServiceError(
                    f"Label Studio at {conn.url} did not finish the export within {timeout:.0f} s"
                )
            time.sleep(0.2)
            snap = exports.get(id=pid, export_pk=snap.id)
        if snap.status == "failed":
            raise ServiceError(f"Label Studio at {conn.url} failed to export project {pid}")
        blob = b"".join(exports.download(id=pid, export_pk=snap.id, export_type="JSON"))
        exports.delete(id=pid, export_pk=snap.id)
    return json.loads(blob), _users(conn)


def _read_export(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a Label Studio JSON export ({err})") from err
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise InputError(f"{path}: not a Label Studio full JSON export (expected a list of tasks)")
    return tasks
