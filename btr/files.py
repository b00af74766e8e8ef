"""Small file and record helpers shared by the corpus, the tagger, the models and Label Studio.

One place each for: atomic writes (a reader never sees half a file), a JSON Lines line turned
into a record or a located message, dotted paths into nested records, and pydantic validation
errors as short messages.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "atomic_writer",
    "get_path",
    "parse_json_line",
    "set_path",
    "validation_message",
    "validation_messages",
    "write_json_atomic",
    "write_jsonl_atomic",
    "write_text_atomic",
]


@contextlib.contextmanager
def atomic_writer(path: str | Path, *, mode: int | None = None) -> Iterator[TextIO]:
    """Open ``path`` for writing text so that it is replaced only when the block succeeds.

    The text goes to a temporary file in the same directory, is flushed and synced, and is
    renamed over ``path`` at the end; an exception leaves ``path`` as it was and removes the
    temporary file.

    Parameters
    ----------
    path : path
    mode : int, optional
        File permissions; default those of an ordinary new file (``0o666`` less the umask),
        since :func:`tempfile.mkstemp` would leave ``0o600``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_writer(target) as handle:
    ...     _ = handle.write("done\\n")
    >>> target.read_text()
    'done\\n'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str, *, mode: int | None = None) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`atomic_writer`)."""
    with atomic_writer(path, mode=mode) as handle:
        handle.write(text)
    return Path(path)


def write_json_atomic(
    path: str | Path,
    payload: Any,
    *,
    indent: int | None = 1,
    sort_keys: bool = False,
    mode: int | None = None,
) -> Path:
    """Write ``payload`` as one JSON document (UTF-8, final newline), atomically."""
    text = json.dumps(payload, ensure_ascii=False, indent=indent, sort_keys=sort_keys, default=str)
    return write_text_atomic(path, text + "\n", mode=mode)


def write_jsonl_atomic(path: str | Path, records: Iterable[Any], *, sort_keys: bool = False) -> Path:
    """Write one JSON object per line (UTF-8, ``\\n`` line ends), atomically.

    A record may be a dict or a pydantic model (dumped in JSON mode, ``None`` fields kept).
    """
    with atomic_writer(path) as handle:
        for record in records:
            if hasattr(record, "model_dump"):
                record = record.model_dump(mode="json")
            handle.write(json.dumps(record, ensure_ascii=False, sort_keys=sort_keys, default=str) + "\n")
    return Path(path)


def parse_json_line(raw: bytes | str) -> tuple[dict[str, Any] | None, str | None]:
    """One line of a JSON Lines file as ``(record, None)``, or ``(None, why)`` when it is not one.

    ``why`` names the problem in the words both the corpus validator and the tagger print:
    bytes that are not UTF-8, malformed JSON with its column, or a JSON value that is not an
    object. A leading byte-order mark is dropped.

    Examples
    --------
    >>> parse_json_line(b'{"id": "a"}\\n')
    ({'id': 'a'}, None)
    >>> parse_json_line('[1, 2]')
    (None, 'expected a JSON object, got list')
    >>> parse_json_line('{"id": ')[1]
    'malformed JSON: Expecting value at column 8'
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            return (
                None,
                f"not UTF-8: byte {raw[err.start]:#04x} at column {err.start + 1} (JSON Lines is UTF-8)",
            )
    raw = raw.removeprefix("\ufeff").rstrip("\r\n")
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as err:
        return None, f"malformed JSON: {err.msg} at column {err.colno}"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {type(record).__name__}"
    return record, None


def _parts(path: str | tuple[str | int, ...]) -> tuple[str | int, ...]:
    if isinstance(path, tuple):
        return path
    return tuple(int(p) if p.isdigit() else p for p in path.split("."))


def get_path(record: Any, path: str | tuple[str | int, ...]) -> Any:
    """The value at a dotted path (``"followup.posts.0.date"``) or tuple path; ``None`` if absent.

    Examples
    --------
    >>> get_path({"a": {"b": [1, 2]}}, "a.b.1")
    2
    >>> get_path({"a": {}}, ("a", "c")) is None
    True
    """
    node = record
    for part in _parts(path):
        if isinstance(part, int):
            if not isinstance(node, list) or len(node) <= part:
                return None
            node = node[part]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def set_path(record: Any, path: str | tuple[str | int, ...], value: Any, *, create: bool = False) -> Any:
    """Set the value at a dotted or tuple path and return the old value.

    Parents must exist unless ``create``, which makes missing ones (a list before an integer
    part, else a dict; a short list is padded with empty dicts).

    Examples
    --------
    >>> r = {"a": {"b": [1, 2]}}
    >>> set_path(r, "a.b.0", 9), r
    (1, {'a': {'b': [9, 2]}})
    >>> set_path({}, ("posts", 0, "date"), "2020", create=True)
    >>> r = {}; _ = set_path(r, ("posts", 1, "date"), "2020", create=True); r
    {'posts': [{}, {'date': '2020'}]}
    """
    parts = _parts(path)
    leaf = parts[-1]
    node = record
    for part, nxt in itertools.pairwise(parts):
        if create and isinstance(part, int):
            while len(node) <= part:
                node.append({})
        elif create and node.get(part) is None:
            node[part] = [] if isinstance(nxt, int) else {}
        node = node[part]
    if isinstance(node, list):
        leaf = int(leaf)
        if create:
            while len(node) <= leaf:
                node.append({})
        old, node[leaf] = node[leaf], value
    else:
        old, node[leaf] = node.get(leaf), value
    return old


def validation_messages(err: Any) -> list[tuple[str, str]]:
    """A pydantic ``ValidationError`` as ``(field path, message)`` pairs a curator can act on.

    An unknown field and a value outside a label set get plain words; the path is dotted
    (``official.level``), ``<record>`` for the record as a whole.
    """
    out = []
    for e in err.errors():
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            message = "unknown field (not in the schema)"
        elif e["type"] == "enum":
            message = f"{e['input']!r} is not one of {e.get('ctx', {}).get('expected', '')}"
        out.append((".".join(str(part) for part in e["loc"]) or "<record>", message))
    return out


def validation_message(err: Exception) -> str:
    """One line for a validation error (every problem, ``; ``-separated), or ``str(err)`` for others."""
    from pydantic import ValidationError

    if isinstance(err, ValidationError):
        return "; ".join(f"{where}: {message}" for where, message in validation_messages(err))
    return str(err)
