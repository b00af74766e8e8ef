"""Read news articles from JSONL, CSV, text and HTML files or stdin, one record at a time.

:func:`read_articles` turns the inputs of ``btr tag`` into a stream of
:class:`Article` records and :class:`btr.errors.Problem` records (one per thing
that could not be read: malformed JSON, a missing or empty text field, a binary
file, undecodable bytes), in input order. Nothing is loaded whole except a single
``.txt`` or ``.html`` article: JSONL and CSV are read line by line, so memory stays
flat whatever the input size.

Inputs
------
- ``*.jsonl`` / ``*.ndjson`` (optionally ``.gz``): one JSON object per line.
- ``*.csv`` (optionally ``.gz``): a header row, then one article per row.
- ``*.txt`` / ``*.html`` / ``*.htm``: one article per file, its id the file path;
  HTML is reduced to the article text with trafilatura.
- a directory (searched recursively, hidden files left out) or a glob pattern.
- ``-``: stdin, read as JSONL when it starts with ``{``, else as one text article.

Encodings are detected per file from its first 64 KiB: a UTF-8 BOM, valid UTF-8,
else charset-normalizer's best guess (GBK and GB2312 are read as their superset
GB18030, Big5 as Big5-HKSCS). The text is returned exactly as decoded: folding
Traditional characters for the features is the model's job (:func:`btr.text.normalize`).

Examples
--------
>>> import json, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "news.jsonl"
>>> _ = path.write_text(json.dumps({"id": "a1", "text": "部长引咎辞职"}) + "\\n{oops\\n", encoding="utf-8")
>>> for item in read_articles([path]):
...     print(type(item).__name__, item.line)
Article 1
Problem 2
"""

from __future__ import annotations

import codecs
import csv
import glob
import gzip
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from btr.errors import InputError, Problem
from btr.files import parse_json_line

__all__ = ["Article", "decode_bytes", "detect_encoding", "expand_inputs", "read_articles"]

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
CSV_SUFFIXES = (".csv", ".csv.gz")
TEXT_SUFFIXES = (".txt", ".text")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
SUPPORTED = JSONL_SUFFIXES + CSV_SUFFIXES + TEXT_SUFFIXES + HTML_SUFFIXES

#: Bytes of a file used to detect its encoding.
SAMPLE_BYTES = 64 * 1024
#: A single ``.txt`` or ``.html`` article larger than this is rejected, not loaded.
MAX_ARTICLE_BYTES = 20 * 1024 * 1024
STDIN = "-"

# Legacy Chinese encodings are read as their supersets, so that a file detected from
# its first 64 KiB still decodes when a rarer character appears later.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "big5": "big5hkscs",
    "ascii": "utf-8",
}
_META_CHARSET_RE = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Article:
    """One article to tag: its id, its text exactly as read, and where it came from."""

    id: str
    text: str
    file: str
    line: int | None = None


# ------------------------------------------------------------------ encodings


def detect_encoding(sample: bytes, *, complete: bool = False) -> str:
    """The encoding of a text from its first bytes; :class:`ValueError` when it is not text.

    Parameters
    ----------
    sample : bytes
        The first bytes of a file (or the whole of it).
    complete : bool
        True when ``sample`` is the whole file: a multi-byte character cut at the
        end is then an error, not an artefact of sampling.

    Returns
    -------
    str
        A Python codec name: ``utf-8-sig``, ``utf-8``, ``gb18030``, ``big5hkscs``, ...

    Examples
    --------
    >>> detect_encoding("國務院同意孟學農辭去山西省省長職務".encode("big5"))
    'big5hkscs'
    >>> detect_encoding(b"\\xef\\xbb\\xbfminister resigns")
    'utf-8-sig'
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ValueError("UTF-16 text is not supported; convert it to UTF-8")
    if b"\x00" in sample:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as err:
        if not complete and err.reason == "unexpected end of data" and err.start >= len(sample) - 3:
            return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        return _detect_around_bad_lines(sample, complete)
    name = codecs.lookup(best.encoding).name
    return _SUPERSETS.get(name, name)


def _detect_around_bad_lines(sample: bytes, complete: bool) -> str:
    """Detection when a few lines hold bytes no encoding accepts (a corrupt record in a
    JSONL or CSV file): detect from the other lines, so that only the bad ones are rejected."""
    from charset_normalizer import from_bytes

    lines = sample.split(b"\n")
    if not complete:
        lines = lines[:-1]
    foreign = [line for line in lines if not line.isascii()]
    if sum(_decodes(line, "utf-8") for line in foreign) * 2 >= len(foreign):
        return "utf-8"
    clean = b"\n".join(line for line in foreign if _decodes(line, "gb18030") or _decodes(line, "big5hkscs"))
    best = from_bytes(clean).best() if clean else None
    if best is None:
        raise ValueError("binary or corrupt file: no text encoding fits its bytes")
    name = codecs.lookup(best.encoding).name
    return _SUPERSETS.get(name, name)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def decode_bytes(data: bytes, encoding: str | None = None) -> str:
    """Decode a whole small text (one article file), detecting its encoding unless given.

    Raises
    ------
    ValueError
        With a reason naming the line and byte offset of the first undecodable byte.
    """
    encoding = encoding or detect_encoding(data, complete=True)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ValueError(
            f"undecodable bytes as {encoding} at line {line}, byte {err.start}: {err.reason}"
        ) from err


# ------------------------------------------------------------------ inputs


def expand_inputs(inputs: Iterable[str | Path]) -> list[str]:
    """Resolve inputs to files (and ``-``), in order; :class:`InputError` for a missing one.

    Directories are searched recursively (sorted, hidden entries left out); a path
    that does not exist is tried as a glob pattern.
    """
    files: list[str] = []
    for given in inputs:
        name = str(given)
        if name == STDIN:
            files.append(STDIN)
            continue
        path = Path(name)
        if path.is_dir():
            files += _walk(path)
        elif path.exists():
            files.append(name)
        elif glob.has_magic(name):
            matches = sorted(glob.glob(name, recursive=True))
            if not matches:
                raise InputError(f"{name}: no file matches this pattern")
            for match in matches:
                files += _walk(Path(match)) if Path(match).is_dir() else [match]
        else:
            raise InputError(f"{name}: no such file or directory")
    return files


def _walk(directory: Path) -> list[str]:
    """Every non-hidden entry below ``directory`` that is not a directory, sorted. Links to
    directories are not followed (a link loop cannot recurse); links to files, broken links
    included, are listed, so that one that cannot be read is reported rather than dropped."""
    found = []
    for root, dirs, files in os.walk(directory, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(root, f) for f in files if not f.startswith(".")]
    return sorted(p.as_posix() for p in found)


def read_articles(
    inputs: Iterable[str | Path],
    *,
    text_field: str = "text",
    id_field: str = "id",
    encoding: str | None = None,
    stdin: BinaryIO | None = None,
) -> Iterator[Article | Problem]:
    """Stream the articles of every input, and a :class:`Problem` for each record that fails.

    Parameters
    ----------
    inputs : iterable of str or Path
        Files, directories, glob patterns or ``-`` (see the module docstring).
    text_field, id_field : str
        The JSON keys or CSV columns of the text and the id. A record without an
        id gets ``FILE:LINE``.
    encoding : str, optional
        The encoding of CSV, ``.txt`` and ``.html`` inputs, when known; default: detected.
        JSON Lines is UTF-8 by definition and is always read as such.
    stdin : binary stream, optional
        Read for ``-``; default ``sys.stdin.buffer``.

    Yields
    ------
    Article or Problem
        In input order. Missing inputs raise :class:`InputError` before anything is read.
    """
    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError as err:
            raise InputError(f"unknown encoding {encoding!r}") from err
    for name in expand_inputs(inputs):
        if name == STDIN:
            stream = stdin if stdin is not None else sys.stdin.buffer
            yield from _read_stream(stream, "<stdin>", None, text_field, id_field, encoding)
            continue
        kind = _kind(name)
        if kind is None:
            suffix = "".join(Path(name).suffixes) or "(none)"
            yield Problem(
                name, None, "", f"unsupported file type {suffix}; btr tag reads {', '.join(SUPPORTED)}"
            )
        elif kind in ("text", "html"):
            yield _read_document(Path(name), kind, encoding)
        else:
            opener = gzip.open if name.endswith(".gz") else open
            try:
                with opener(name, "rb") as stream:
                    yield from _read_stream(stream, name, kind, text_field, id_field, encoding)
            except OSError as err:  # unreadable file, not a gzip file
                yield Problem(name, None, "", f"cannot read file: {err}")


def _kind(name: str) -> str | None:
    lower = name.lower()
    for kind, suffixes in (
        ("jsonl", JSONL_SUFFIXES),
        ("csv", CSV_SUFFIXES),
        ("text", TEXT_SUFFIXES),
        ("html", HTML_SUFFIXES),
    ):
        if lower.endswith(suffixes):
            return kind
    return None


class _Broken(Exception):
    """The stream broke after ``lines`` complete lines (a truncated gzip, a read error)."""

    def __init__(self, lines: int, error: BaseException) -> None:
        super().__init__(str(error))
        self.lines = lines
        self.error = error


def _read_stream(
    stream: BinaryIO, name: str, kind: str | None, text_field: str, id_field: str, encoding: str | None = None
) -> Iterator[Article | Problem]:
    """JSONL or CSV from a binary stream, record by record; ``kind=None`` sniffs (stdin)."""
    try:
        head = stream.read(SAMPLE_BYTES)
    except (OSError, EOFError) as err:
        yield Problem(name, None, "", f"cannot read: {err}")
        return
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        yield Problem(name, None, "", "UTF-16 text is not supported; convert it to UTF-8")
        return
    if kind is None:
        if not head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"{"):
            yield _stdin_document(stream, head, name, encoding)
            return
        kind = "jsonl"
    lines = _lines(head, stream)
    if kind == "jsonl":
        yield from _jsonl(lines, name, text_field, id_field)
    else:
        yield from _csv(lines, name, head, encoding, text_field, id_field)


def _stdin_document(stream: BinaryIO, head: bytes, name: str, encoding: str | None) -> Article | Problem:
    try:
        data = head + stream.read(MAX_ARTICLE_BYTES + 1 - len(head))
    except (OSError, EOFError) as err:
        return Problem(name, None, "", f"cannot read: {err}")
    if len(data) > MAX_ARTICLE_BYTES:
        return Problem(name, None, "", f"more than {MAX_ARTICLE_BYTES} bytes: too large for one article")
    return _document(STDIN, data, None, "text", encoding)


#: A JSONL or CSV line longer than this is rejected without being held in memory whole.
MAX_LINE_BYTES = MAX_ARTICLE_BYTES
_CHUNK = 1 << 20


def _lines(head: bytes, stream: BinaryIO) -> Iterator[bytes | int]:
    """The lines of ``head`` followed by the rest of ``stream`` (``head`` may end mid-line).

    A line longer than :data:`MAX_LINE_BYTES` is skipped to its end and yields its length
    (an ``int``) instead. A read error raises :class:`_Broken` with the count of the lines
    yielded before it. Splitting bytes on ``\\n`` is safe for UTF-8, GB18030 and Big5: none
    of them uses 0x0A inside a multi-byte character.
    """
    buffered = [head]
    count = 0
    pending = b""
    overflow = 0  # bytes of an over-long line skipped so far
    while buffered or stream is not None:
        if buffered:
            chunk = buffered.pop()
        else:
            try:
                chunk = stream.read(_CHUNK)
            except (OSError, EOFError) as err:
                raise _Broken(count, err) from err
            if not chunk:
                break
        start = 0
        while True:
            cut = chunk.find(b"\n", start)
            if cut < 0:
                rest = chunk[start:]
                if overflow:
                    overflow += len(rest)
                elif len(pending) + len(rest) > MAX_LINE_BYTES:
                    overflow, pending = len(pending) + len(rest), b""
                else:
                    pending += rest
                break
            piece = chunk[start : cut + 1]
            start = cut + 1
            count += 1
            if overflow:
                yield overflow + len(piece)
                overflow = 0
            elif len(pending) + len(piece) > MAX_LINE_BYTES:
                size, pending = len(pending) + len(piece), b""
                yield size
            else:
                yield pending + piece
                pending = b""
    if overflow:
        yield overflow
    elif pending:
        yield pending


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _jsonl(
    lines: Iterator[bytes | int], name: str, text_field: str, id_field: str
) -> Iterator[Article | Problem]:
    """JSON Lines, each line decoded as UTF-8 on its own: a damaged line costs only itself."""
    number = 0
    while True:
        try:
            raw = next(lines)
        except StopIteration:
            return
        except _Broken as broken:
            yield Problem(
                name, broken.lines + 1, "", f"the file breaks off after line {broken.lines}: {broken.error}"
            )
            return
        number += 1
        if isinstance(raw, int):
            yield Problem(name, number, "", f"line of {raw} bytes, longer than the limit of {MAX_LINE_BYTES}")
            continue
        if not raw.strip():
            continue
        record, why = parse_json_line(raw)
        if why:
            yield Problem(name, number, "", why)
            continue
        yield _article(record.get(text_field, _MISSING), record.get(id_field), name, number, text_field)


_MISSING = object()


def _article(text: object, id_: object, name: str, line: int, text_field: str) -> Article | Problem:
    known = None if id_ is None or id_ == "" or isinstance(id_, dict | list) else str(id_)
    if known is not None and _has_surrogate(known):
        return Problem(name, line, "id", "the id holds a lone surrogate (not valid Unicode)")
    if text is _MISSING:
        return Problem(name, line, text_field, "missing text field", known)
    if not isinstance(text, str):
        return Problem(name, line, text_field, f"a {type(text).__name__}, not text", known)
    if not text.strip():
        return Problem(name, line, text_field, "empty text", known)
    if _has_surrogate(text):
        return Problem(name, line, text_field, "the text holds a lone surrogate (not valid Unicode)", known)
    return Article(known if known is not None else f"{name}:{line}", text, name, line)


def _legacy_encoding(head: bytes) -> str | None:
    """The legacy encoding of the lines of ``head`` that are not UTF-8, or None when all are."""
    from charset_normalizer import from_bytes

    foreign = [
        line
        for line in head.split(b"\n")[:-1] or [head]
        if not line.isascii() and not _decodes(line, "utf-8")
    ]
    if not foreign:
        return None
    best = from_bytes(b"\n".join(foreign)).best()
    if best is None:
        return None
    found = codecs.lookup(best.encoding).name
    return _SUPERSETS.get(found, found)


class _CsvLines:
    """The lines of a CSV file for :mod:`csv`, each decoded on its own: as UTF-8 where it is valid
    UTF-8, else in the declared encoding or the legacy encoding detected from the file's other
    non-UTF-8 lines. A line that decodes in neither, holds a NUL or is too long is noted in
    :attr:`bad` by line number (and read as an empty or replaced line); a file that breaks off is
    noted in :attr:`broken`."""

    def __init__(self, lines: Iterator[bytes | int], head: bytes, encoding: str | None) -> None:
        self.lines, self.head, self.encoding = lines, head, encoding
        self.bad: dict[int, str] = {}
        self.broken: list[_Broken] = []
        self.legacy: list[str | None] = [encoding] if encoding else []

    def __iter__(self) -> Iterator[str]:
        number = 0
        while True:
            try:
                raw = next(self.lines)
            except StopIteration:
                return
            except _Broken as err:
                self.broken.append(err)
                return
            number += 1
            if isinstance(raw, int):
                self.bad[number] = f"line of {raw} bytes, longer than the limit of {MAX_LINE_BYTES}"
                yield "\n"
                continue
            yield self._decode(number, raw)

    def _decode(self, number: int, raw: bytes) -> str:
        nul = raw.find(b"\x00")
        if nul >= 0:
            self.bad[number] = f"NUL byte at column {nul + 1}"
            return "\n"
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if not self.encoding:
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                pass
        if not self.legacy:
            self.legacy.append(_legacy_encoding(self.head) or _legacy_encoding(raw))
        legacy = self.legacy[0]
        try:
            if legacy is None:
                raise UnicodeDecodeError("utf-8", raw, 0, 1, "no encoding fits")
            return raw.decode(legacy)
        except UnicodeDecodeError as err:
            self.bad[number] = (
                f"undecodable bytes (not UTF-8{', nor ' + legacy if legacy else ''}) at column {err.start + 1}"
            )
            return raw.decode("utf-8", errors="replace")


def _csv(
    lines: Iterator[bytes | int],
    name: str,
    head: bytes,
    encoding: str | None,
    text_field: str,
    id_field: str,
) -> Iterator[Article | Problem]:
    """CSV rows (lines decoded by :class:`_CsvLines`); a row touching a line that decodes in no
    encoding is rejected, the rest of the file is kept."""
    source = _CsvLines(lines, head, encoding)
    # Articles are long: lift the csv module's 128 KiB default field limit.
    csv.field_size_limit(MAX_ARTICLE_BYTES)
    reader = csv.reader(source)
    header: list[str] | None = None
    end = 0
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            end = reader.line_num
            yield Problem(name, start, "", f"malformed CSV: {err}")
            continue
        end = reader.line_num
        problem = next((source.bad.pop(n) for n in range(start, end + 1) if n in source.bad), None)
        if header is None:
            if problem:
                yield Problem(name, start, "", f"header: {problem}")
                return
            header = row
        elif row or problem:
            yield _csv_row(row, header, problem, name, start, text_field, id_field)
    for err in source.broken:
        yield Problem(name, err.lines + 1, "", f"the file breaks off after line {err.lines}: {err.error}")


def _csv_row(
    row: list[str],
    header: list[str],
    problem: str | None,
    name: str,
    line: int,
    text_field: str,
    id_field: str,
) -> Article | Problem:
    id_at = header.index(id_field) if id_field in header else None
    row_id = row[id_at] if id_at is not None and id_at < len(row) and row[id_at] else None
    if problem:
        return Problem(name, line, "", problem, row_id)
    if text_field not in header:
        return Problem(
            name, line, text_field, f"no column {text_field!r} in the header ({', '.join(header)})", row_id
        )
    if len(row) != len(header):
        return Problem(name, line, "", f"{len(row)} fields where the header has {len(header)}", row_id)
    return _article(row[header.index(text_field)], row_id, name, line, text_field)


# ------------------------------------------------------------------ one article per file


def _read_document(path: Path, kind: str, encoding: str | None = None) -> Article | Problem:
    name = path.as_posix()
    try:
        size = path.stat().st_size
        if size > MAX_ARTICLE_BYTES:
            return Problem(
                name, None, "", f"{size} bytes: too large for one article (limit {MAX_ARTICLE_BYTES})"
            )
        data = path.read_bytes()
    except OSError as err:
        return Problem(name, None, "", f"cannot read file: {err}")
    return _document(name, data, None, kind, encoding)


def _document(
    name: str, data: bytes, line: int | None, kind: str, encoding: str | None = None
) -> Article | Problem:
    if kind == "html" and encoding is None:
        declared = _META_CHARSET_RE.search(data[:4096])
        if declared:
            try:
                encoding = codecs.lookup(declared.group(1).decode("ascii")).name
                encoding = _SUPERSETS.get(encoding, encoding)
            except LookupError:
                encoding = None
        if encoding and b"\x00" in data[:SAMPLE_BYTES]:
            return Problem(name, line, "", "binary file (contains NUL bytes)")
    try:
        text = decode_bytes(data, encoding)
    except ValueError as err:
        return Problem(name, line, "", str(err))
    if kind == "html":
        text = _html_text(text)
        if text is None:
            return Problem(name, line, "", "no article text found in the HTML")
    if not text.strip():
        return Problem(name, line, "", "empty text")
    return Article(name, text, name, line)


def _html_text(html: str) -> str | None:
    """The article's text (its title first, when the body does not repeat it), via trafilatura."""
    import trafilatura

    document = trafilatura.bare_extraction(html, include_comments=False, with_metadata=True)
    if document is None:
        return None
    text = (document.text or "").strip()
    title = (document.title or "").strip()
    if not text:
        return None
    return text if not title or title in text else f"{title}\n{text}"
