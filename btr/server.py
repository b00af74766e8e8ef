"""A local Label Studio server: its own virtual environment, start, health check, SIGTERM stop.

Label Studio pins Django, pyarrow and numpy versions, so it runs from its own
environment (``.venv-ls``, made by ``make ls-venv`` or on first use) and btr
talks to it only over HTTP with ``label-studio-sdk``. The server binds
127.0.0.1 only; credentials reach it through its environment, never its
command line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from btr.errors import ServiceError
from btr.paths import ROOT

__all__ = ["LABEL_STUDIO_VERSION", "LS_VENV", "LabelStudioServer", "ensure_ls_venv", "free_port"]

#: The server release the tests and ``btr annotate serve`` run (a test keeps the Makefile in sync).
LABEL_STUDIO_VERSION = "1.23.2"
LS_VENV = ROOT / ".venv-ls"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_ls_venv(venv: Path = LS_VENV) -> Path:
    """Return the ``label-studio`` executable, installing the server's own environment on first use."""
    exe = Path(venv) / "bin" / "label-studio"
    if exe.exists():
        return exe
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(Path(venv) / "bin" / "pip"), "install", "-q", f"label-studio=={LABEL_STUDIO_VERSION}"],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as err:
        raise ServiceError(
            f"could not install label-studio=={LABEL_STUDIO_VERSION} into {venv}: {err}"
        ) from err
    (Path(venv) / ".installed").touch()
    return exe


class LabelStudioServer:
    """A local Label Studio process on 127.0.0.1, stopped with SIGTERM.

    Credentials go to the process through its environment (never its command
    line, which other users can read). ``template``, when given, is a data
    directory made by :meth:`init_template` that is copied into ``data_dir``
    first, which skips the 30-second migrations.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        username: str,
        password: str,
        token: str,
        port: int | None = None,
        venv: Path = LS_VENV,
        template: str | Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.username = username
        self._password = password
        self._token = token
        self.port = port
        self.venv = Path(venv)
        self.template = Path(template) if template else None
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    def __repr__(self) -> str:
        return f"LabelStudioServer(url={self.url!r}, data_dir={str(self.data_dir)!r})"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return self._token

    @property
    def log_path(self) -> Path:
        return self.data_dir / "label-studio.log"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
        env.update(
            LABEL_STUDIO_BASE_DATA_DIR=str(self.data_dir),
            LABEL_STUDIO_USERNAME=self.username,
            LABEL_STUDIO_PASSWORD=self._password,
            LABEL_STUDIO_USER_TOKEN=self._token,
            LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
            LATEST_VERSION_CHECK="false",
            SENTRY_DSN="",
            FRONTEND_SENTRY_DSN="",
            COLLECT_ANALYTICS="false",
        )
        return env

    def init_template(self, template: str | Path, timeout: float = 600) -> Path:
        """Run ``label-studio init`` into ``template`` (built aside, then renamed into place)."""
        template = Path(template)
        if template.exists():
            return template
        exe = ensure_ls_venv(self.venv)
        build = Path(tempfile.mkdtemp(prefix=f".{template.name}.", dir=template.parent))
        env = self._env() | {"LABEL_STUDIO_BASE_DATA_DIR": str(build)}
        try:
            subprocess.run(
                [str(exe), "init", "--data-dir", str(build), "--enable-legacy-api-token", "-q"],
                env=env, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            with contextlib.suppress(OSError):
                build.rename(template)
        except (OSError, subprocess.SubprocessError) as err:
            raise ServiceError(f"label-studio init failed: {err}") from err
        finally:
            shutil.rmtree(build, ignore_errors=True)
        return template

    def start(self, timeout: float = 300) -> LabelStudioServer:
        """Start the server and wait until ``/health`` says UP."""
        exe = ensure_ls_venv(self.venv)
        if self.template is not None and not (self.data_dir / "label_studio.sqlite3").exists():
            shutil.copytree(self.template, self.data_dir, dirs_exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        began = time.monotonic()
        log = self.log_path.open("ab")
        cmd = [str(exe), "start", "--no-browser", "--internal-host", "127.0.0.1", "-p", str(self.port),
               "--data-dir", str(self.data_dir), "--enable-legacy-api-token"]  # fmt: skip
        # A session of its own: Ctrl-C in the terminal reaches btr, which then stops the server itself.
        self.process = subprocess.Popen(
            cmd, env=self._env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        announced = re.compile(r"Starting development server at http://127\.0\.0\.1:(\d+)/")
        while time.monotonic() - began < timeout:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-800:]
                raise ServiceError(
                    f"Label Studio exited with code {self.process.returncode} while starting:\n{tail}"
                )
            match = announced.search(self.log_path.read_text(errors="replace"))
            if match and int(match.group(1)) != self.port:
                # It moves to the next port when the one asked for is busy.
                self.port = int(match.group(1))
            if match and self._healthy():
                self.startup_seconds = time.monotonic() - began
                return self
            time.sleep(0.5)
        self.stop()
        raise ServiceError(f"Label Studio did not become healthy within {timeout:.0f} s; see {self.log_path}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return json.loads(response.read()).get("status") == "UP"
        except (OSError, ValueError):
            return False

    def version(self) -> str:
        with urllib.request.urlopen(f"{self.url}/api/version", timeout=5) as response:
            payload = json.loads(response.read())
        return str(payload.get("release") or payload.get("label-studio-os-package", {}).get("version"))

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, then SIGKILL if it does not exit within ``timeout`` seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> LabelStudioServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
