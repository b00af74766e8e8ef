"""Batch tagging of news articles (btr tag). Owned by the tag developer.

:func:`tag` streams articles from :func:`btr.readers.read_articles` in batches
through one model's ``predict_proba`` and writes one record per article:

.. code-block:: json

    {"id": "a1", "is_btr": true,
     "category": {"label": "btr", "score": 0.91},
     "trigger": {"label": "safety_accident", "score": 0.97},
     "responsibility": {"label": "leadership_main", "score": 0.62},
     "initiation": {"label": "self_initiated", "score": 0.71},
     "explanation": "..."}

(``explanation``, the sentence that most supports the category, only with
``explain=True``.) In CSV the heads become ``category`` and ``category_score``
columns and so on. Scores are rounded to 4 decimals.

Memory stays flat: at most one batch of articles (``engine="local"``) or a few
batches per worker (``engine="dask"``) is held at a time. Records that cannot be
read go to the rejects file and are counted; ``strict=True`` stops at the first.
Both engines run the same :func:`tag_batch` on the same batches, so their outputs
are identical.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from btr.errors import DataError, InputError, Interrupted, Problem, ServiceError, UsageError, require
from btr.paths import DEFAULT_MODEL
from btr.readers import STDIN, Article, expand_inputs, read_articles
from btr.settings import DEFAULT_BATCH_SIZE, ENGINES, FORMATS

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_MODEL", "FORMATS", "TagSummary", "tag", "tag_batch"]

_SCORE_DIGITS = 4
_SHOWN_PROBLEMS = 5


@dataclass
class TagSummary:
    """What a :func:`tag` run did; :meth:`describe` renders it for the end of the CLI run."""

    out: str
    rejects: str | None
    model: str
    engine: str
    tagged: int = 0
    skipped: int = 0
    rejected: int = 0
    seconds: float = 0.0
    categories: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)

    def skip(self) -> None:
        """Count an article already in the output (``resume``)."""
        self.skipped += 1

    @property
    def articles_per_second(self) -> float:
        return self.tagged / self.seconds if self.seconds > 0 else 0.0

    def table(self) -> list[tuple[str, int]]:
        """Articles tagged per category label, most frequent first."""
        return self.categories.most_common()

    def describe(self) -> str:
        """A few lines for stderr: counts, speed, categories and the first rejected records."""
        lines = [
            f"tagged {self.tagged}, skipped {self.skipped} (already in the output), rejected {self.rejected}"
            f" in {self.seconds:.1f} s ({self.articles_per_second:,.0f} articles/s, {self.engine} engine,"
            f" model {self.model})"
        ]
        lines += [f"  {label:<20}{count:>8}" for label, count in self.table()]
        if self.rejected:
            where = f"all in {self.rejects}" if self.rejects else "keep them all with --rejects FILE"
            lines.append(f"rejected records ({where}):")
            lines += [f"  {p}" for p in self.problems]
            if self.rejected > len(self.problems):
                lines.append(f"  ... and {self.rejected - len(self.problems)} more")
        return "\n".join(lines)


def tag_batch(
    model: Any, ids: Sequence[str], texts: Sequence[str], *, explain: bool = False
) -> list[dict[str, Any]]:
    """The output records of one batch: one ``predict_proba`` call for all texts.

    Parameters
    ----------
    model : btr.models.Model
        A loaded model (anything with ``heads``, ``predict_proba`` and ``explain``).
    ids, texts : sequences of str
        The articles, in the same order.
    explain : bool
        Add ``explanation``: the sentence of the original text that most supports the category.

    Examples
    --------
    >>> from btr.models import load_model                      # doctest: +SKIP
    >>> tag_batch(load_model("models/default"), ["a1"], ["部长引咎辞职"])[0]["is_btr"]  # doctest: +SKIP
    True
    """
    proba = model.predict_proba(list(texts))
    heads = model.heads
    best = {head: p.argmax(axis=1) for head, p in proba.items()}
    records = []
    for i, id_ in enumerate(ids):
        labels = {head: heads[head][int(best[head][i])] for head in proba}
        record: dict[str, Any] = {"id": id_, "is_btr": labels.get("category") == "btr"}
        for head, p in proba.items():
            score = float(p[i, best[head][i]])
            record[head] = {"label": labels[head], "score": round(score, _SCORE_DIGITS)}
        if explain:
            record["explanation"] = model.explain(texts[i])
        records.append(record)
    return records


def tag(
    inputs: Iterable[str | Path],
    *,
    model: str | Path | Any = DEFAULT_MODEL,
    out: str | Path | TextIO | None = None,
    format: str = "jsonl",
    text_field: str = "text",
    id_field: str = "id",
    encoding: str | None = None,
    explain: bool = False,
    rejects: str | Path | None = None,
    strict: bool = False,
    resume: bool = False,
    quiet: bool | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
) -> TagSummary:
    """Tag every article of ``inputs`` with ``model`` and write one record per article.

    Parameters
    ----------
    inputs : iterable of str or Path
        JSONL or CSV files, ``.txt`` / ``.html`` files, directories, glob patterns, or
        ``-`` for stdin (see :mod:`btr.readers`).
    model : path or btr.models.Model
        A model directory (:func:`btr.models.load_model`), or a model already loaded.
    out : path, text stream or None
        Where the records go; ``None`` or ``"-"`` is stdout.
    format : {"jsonl", "csv"}
    text_field, id_field : str
        JSON keys or CSV columns of the text and the id.
    encoding : str, optional
        The encoding of CSV and text inputs when known (JSONL is always UTF-8).
    explain : bool
        Add the sentence that most supports the category (one extra prediction per sentence).
    rejects : path, optional
        Write each record that cannot be read (file, line, field, reason) here as JSONL.
    strict : bool
        Stop at the first bad record: :class:`btr.errors.DataError` (exit 1), after writing
        the records read before it.
    resume : bool
        Append to ``out``, skipping articles whose id it already holds (a half-written
        last line, from a run that was killed, is dropped first).
    quiet : bool, optional
        No progress bar; default from ``BTR_QUIET``.
    batch_size : int
        Articles per ``predict_proba`` call, and per Dask task.
    engine : {"local", "dask"}
        ``dask`` sends batches to a dask.distributed cluster: ``scheduler`` (an address)
        or a LocalCluster of ``workers`` processes (default: one per core).

    Returns
    -------
    TagSummary

    Raises
    ------
    UsageError
        When ``out`` or ``rejects`` is one of the inputs (after resolving links), or ``rejects``
        is ``out``: checked before anything is opened for writing.
    Interrupted
        On SIGINT or SIGTERM: the batch under way is finished and written, so that the
        output holds whole records only, then the run stops; ``resume=True`` completes it.

    Examples
    --------
    >>> summary = tag(["corpus/samples/news.jsonl"], out="build/tags.jsonl")  # doctest: +SKIP
    >>> summary.table()                                                      # doctest: +SKIP
    [('btr', 6), ('other_resignation', 3), ...]
    """
    from btr.models import Model, load_model

    _check_options(format, engine, batch_size, out, resume)
    _refuse_overwriting(inputs, out, rejects)
    loaded = model if isinstance(model, Model) else load_model(model)
    done = _finished_ids(Path(out), format, id_field="id") if resume else set()
    header = format == "csv" and not (resume and Path(out).exists() and Path(out).stat().st_size > 0)
    summary = TagSummary(_output_name(out), str(rejects) if rejects else None, loaded.version, engine)
    with _open_output(out, resume) as stream, _Rejects(rejects, summary, strict) as rejected:
        items = read_articles(inputs, text_field=text_field, id_field=id_field, encoding=encoding)
        batches = _batches(items, batch_size, done, rejected.add, summary.skip)
        if engine == "local":
            results: Iterator[list[dict]] = (
                tag_batch(loaded, [a.id for a in b], [a.text for a in b], explain=explain) for b in batches
            )
        else:
            results = _dask_results(loaded, batches, explain, scheduler=scheduler, workers=workers)
        writer = _writer(format, list(loaded.heads), explain)
        signalled = _write_results(stream, writer, results, summary, header=header, quiet=quiet)
    if rejected.stop:
        raise DataError(
            rejected.stop,
            summary=f"stopped at the first bad record (--strict); {summary.tagged} tagged before it",
        )
    if signalled:
        raise Interrupted(signalled[0], f"{summary.tagged} records written to {summary.out}")
    return summary


def _check_options(format: str, engine: str, batch_size: int, out: Any, resume: bool) -> None:
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, not {batch_size}")
    if resume and (_is_stdout(out) or not isinstance(out, str | Path)):
        raise InputError("--resume needs an output file (-o OUT) to read the finished ids from")


def _is_stdout(out: Any) -> bool:
    return out is None or str(out) == "-"


def _output_name(out: Any) -> str:
    if _is_stdout(out):
        return "<stdout>"
    return str(out if isinstance(out, str | Path) else getattr(out, "name", out))


class _Rejects:
    """The rejects file (or nothing) and the count of bad records; with ``strict`` the first
    bad record stops the stream (:meth:`add` returns False) and is kept in :attr:`stop`."""

    def __init__(self, path: str | Path | None, summary: TagSummary, strict: bool) -> None:
        self.path, self.summary, self.strict = path, summary, strict
        self.stop: list[Problem] = []

    def __enter__(self) -> _Rejects:
        self.stream = open(self.path, "w", encoding="utf-8") if self.path else io.StringIO()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()

    def add(self, problem: Problem) -> bool:
        self.summary.rejected += 1
        if len(self.summary.problems) < _SHOWN_PROBLEMS:
            self.summary.problems.append(problem)
        self.stream.write(json.dumps(_reject_record(problem), ensure_ascii=False) + "\n")
        self.stream.flush()
        if self.strict:
            self.stop.append(problem)
        return not self.strict


def _write_results(
    stream: Any,
    writer: Any,
    results: Iterator[list[dict]],
    summary: TagSummary,
    *,
    header: bool,
    quiet: bool | None,
) -> list[int]:
    """Write each batch's records as they come, with a progress bar; the signals received
    (SIGINT, SIGTERM) end the loop after the batch under way and are returned."""
    from tqdm.auto import tqdm

    from btr.models import quiet_default

    if header:
        stream.write(writer(None))
    signalled: list[int] = []
    started = time.perf_counter()
    bar = tqdm(desc="tagging", unit=" articles", file=sys.stderr, disable=quiet_default(quiet), smoothing=0.1)
    with _stop_on_signals(signalled):
        try:
            for records in results:
                # one write of whole lines per batch: a crash leaves whole records behind
                stream.write(writer(records))
                stream.flush()
                summary.tagged += len(records)
                summary.categories.update(r["category"]["label"] for r in records if "category" in r)
                bar.update(len(records))
                if signalled:
                    break
        finally:
            bar.close()
            summary.seconds = time.perf_counter() - started
    return signalled


def _refuse_overwriting(inputs: Iterable[str | Path], out: Any, rejects: str | Path | None) -> None:
    """A usage error when an output would overwrite an input, before anything is opened for writing."""
    names = [str(i) for i in inputs]
    files = {Path(f).resolve() for f in expand_inputs(names) if f != STDIN}
    targets = []
    if isinstance(out, str | Path) and str(out) != "-":
        targets.append(("output", Path(out).resolve()))
    if rejects:
        targets.append(("rejects file", Path(rejects).resolve()))
    for what, path in targets:
        if path in files:
            raise UsageError(
                f"the {what} {path} is also an input: it would be overwritten; choose another path"
            )
    if len(targets) == 2 and targets[0][1] == targets[1][1]:
        raise UsageError(f"the rejects file and the output are the same file ({targets[0][1]})")


@contextmanager
def _stop_on_signals(signalled: list[int]):
    """While tagging, SIGINT and SIGTERM only ask the loop to stop after the batch under way, so
    that the output ends on a whole record; a second signal stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if signalled:  # a second signal: stop now
            signal.signal(signum, signal.SIG_DFL)
            raise KeyboardInterrupt
        signalled.append(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _batches(
    items: Iterable[Article | Problem],
    size: int,
    done: set[str],
    on_problem,
    on_skip,
) -> Iterator[list[Article]]:
    """Lists of at most ``size`` articles not yet done; ``on_problem`` returning False stops
    the stream after the articles read before that problem."""
    batch: list[Article] = []
    for item in items:
        if isinstance(item, Problem):
            if not on_problem(item):
                break
            continue
        if item.id in done:
            on_skip()
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _dask_results(
    model: Any,
    batches: Iterator[list[Article]],
    explain: bool,
    *,
    scheduler: str | None,
    workers: int | None,
) -> Iterator[list[dict]]:
    """Run :func:`tag_batch` on a dask.distributed cluster, yielding results in input order.

    The model is sent to every worker once (workers need no access to the model
    directory); at most two batches per worker are in flight, so memory stays flat.
    """
    distributed = require("distributed", "dask")
    cluster = None
    try:
        if scheduler is None:
            cluster = distributed.LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
        client = distributed.Client(scheduler or cluster, set_as_default=False, timeout="10s")
    except (OSError, TimeoutError) as err:
        if cluster is not None:
            cluster.close()
        raise ServiceError(f"cannot reach the Dask scheduler {scheduler or 'LocalCluster'}: {err}") from err
    try:
        n_workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
        remote_model = client.scatter(model, broadcast=True, hash=False)
        window: deque = deque()
        for batch in batches:
            ids, texts = [a.id for a in batch], [a.text for a in batch]
            window.append(client.submit(tag_batch, remote_model, ids, texts, explain=explain, pure=False))
            if len(window) > 2 * n_workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ------------------------------------------------------------------ output


def _open_output(out: str | Path | TextIO | None, resume: bool):
    if _is_stdout(out):
        return _Borrowed(sys.stdout)
    if not isinstance(out, str | Path):
        return _Borrowed(out)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _WholeWrites(path, append=resume)


class _WholeWrites:
    """An output file written with one ``os.write`` loop per call, unbuffered: what a call was
    given is on disk when it returns, so that a stop between calls leaves whole records."""

    def __init__(self, path: Path, *, append: bool) -> None:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        self.fd = os.open(path, flags, 0o666)
        self.name = str(path)

    def write(self, text: str) -> None:
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(self.fd, data) :]

    def flush(self) -> None:
        pass

    def __enter__(self) -> _WholeWrites:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


class _Borrowed:
    """A stream the caller owns: used as a context manager without closing it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __enter__(self) -> TextIO:
        return self.stream

    def __exit__(self, *exc: object) -> None:
        self.stream.flush()


def _writer(format: str, heads: list[str], explain: bool):
    """A function from a batch of records to the text of their lines (``None``: the CSV header)."""
    if format == "jsonl":

        def write_jsonl(records: list[dict] | None) -> str:
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records or ())

        return write_jsonl
    columns = ["id", "is_btr"] + [c for head in heads for c in (head, f"{head}_score")]
    if explain:
        columns.append("explanation")

    def write_csv(records: list[dict] | None) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if records is None:
            writer.writerow(columns)
        for r in records or ():
            row = [r["id"], "true" if r["is_btr"] else "false"]
            for head in heads:
                row += [r[head]["label"], r[head]["score"]]
            if explain:
                row.append(r.get("explanation") or "")
            writer.writerow(row)
        return buffer.getvalue()

    return write_csv


def _reject_record(problem: Problem) -> dict[str, Any]:
    record = {"file": problem.file, "line": problem.line, "field": problem.field, "reason": problem.message}
    if problem.id is not None:
        record["id"] = problem.id
    return record


def _finished_ids(path: Path, format: str, *, id_field: str) -> set[str]:
    """Ids already in an output file; a half-written last line is cut off first."""
    if not path.exists() or path.stat().st_size == 0:
        return set()
    _truncate_partial_line(path)
    done: set[str] = set()
    with open(path, encoding="utf-8", newline="") as stream:
        if format == "csv":
            reader = csv.DictReader(stream)
            if reader.fieldnames is None or id_field not in reader.fieldnames:
                raise InputError(
                    f"{path}: cannot resume, it is not a CSV written by btr tag (no {id_field!r} column)"
                )
            done.update(row[id_field] for row in reader)
            return done
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                done.add(str(json.loads(line)[id_field]))
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise InputError(
                    f"{path}:{number}: cannot resume, this line is not a JSONL record of btr tag ({err})"
                ) from err
    return done


def _truncate_partial_line(path: Path) -> None:
    with open(path, "rb+") as stream:
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        stream.seek(size - 1)
        if stream.read(1) == b"\n":
            return
        # Scan back in blocks for the last newline: the file may be large.
        end = size
        while end > 0:
            start = max(0, end - 65536)
            stream.seek(start)
            block = stream.read(end - start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                stream.truncate(start + cut + 1)
                return
            end = start
        stream.truncate(0)
