"""A local Label Studio with the corpus pushed: ``btr annotate serve``."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from btr.labelstudio.config import SERVE_DIR, STATE_DIR
from btr.labelstudio.push import PushResult, push

# ----------------------------------------------------------------------------- serve


@dataclass
class ServeInfo:
    """What ``serve`` tells the user once the server is up (the API token is not part of it)."""

    url: str
    username: str
    password: str
    project: str
    project_url: str
    push: PushResult | None
    data_dir: Path
    startup_seconds: float


def _credentials(data_dir: Path) -> dict[str, str]:
    """The local admin login and API token, made once per data directory and kept there (mode 0600)."""
    path = data_dir / "btr-credentials.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    data_dir.mkdir(parents=True, exist_ok=True)
    creds = {
        "username": "admin@btr.local",
        "password": secrets.token_urlsafe(12),
        "token": secrets.token_hex(20),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(creds, handle)
    return creds


def serve(
    *,
    project: str = "btr",
    data_dir: str | Path = SERVE_DIR,
    port: int | None = 8080,
    cases: str | Path | None = None,
    model: str | Path | None = None,
    state_dir: str | Path = STATE_DIR,
    on_ready: Callable[[ServeInfo], None] | None = None,
    wait: bool = True,
) -> ServeInfo:
    """Start a local Label Studio, create the project, push the corpus, and run until interrupted.

    Pre-annotations come from ``model`` (the CLI passes ``models/default`` when it exists).
    Annotations stay in ``data_dir`` (default ``.label-studio/``) across runs.
    ``on_ready`` is called once the project is filled; with ``wait`` the call
    blocks until SIGINT or SIGTERM, then stops the server with SIGTERM.
    """
    from btr.server import LabelStudioServer

    data_dir = Path(data_dir)
    creds = _credentials(data_dir)
    if port is not None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                port = None  # busy: take a free one rather than Label Studio's silent port+1
    server = LabelStudioServer(
        data_dir, username=creds["username"], password=creds["password"], token=creds["token"], port=port
    )
    stop_requested = False

    def _stop(signum: int, frame: Any) -> None:
        nonlocal stop_requested
        stop_requested = True

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        pushed = push(
            project, cases=cases, model=model, url=server.url, api_key=creds["token"], state_dir=state_dir
        )
        info = ServeInfo(
            url=server.url,
            username=creds["username"],
            password=creds["password"],
            project=project,
            project_url=f"{server.url}/projects/{pushed.project_id}/data",
            push=pushed,
            data_dir=data_dir,
            startup_seconds=server.startup_seconds or 0.0,
        )
        if on_ready is not None:
            on_ready(info)
        while wait and not stop_requested and server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
        return info
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
