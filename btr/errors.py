"""The exception family of btr and the exit codes the CLI maps them to.

========  ==========================================================
exit      meaning
========  ==========================================================
0         success
1         invalid data: the corpus or an input failed validation
2         usage error (click's own: bad option, missing argument; an output that would overwrite an input)
3         conflicts: a pull kept local edits and wrote a conflicts file
4         an external service failed (Label Studio unreachable, bad token)
5         a model or artifact could not be loaded
130, 143  interrupted (Ctrl-C, SIGTERM): the output holds whole records only, ``--resume`` completes it
========  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass


class BtrError(Exception):
    """Base class of every error btr raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one record: where it is and what is wrong."""

    file: str
    line: int | None
    field: str
    message: str
    id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class DataError(BtrError):
    """Records failed validation; ``problems`` lists each with file, line and field."""

    exit_code = 1

    def __init__(self, problems: list[Problem], summary: str | None = None) -> None:
        self.problems = list(problems)
        head = summary or f"{len(self.problems)} problem(s)"
        shown = "\n".join(f"  {p}" for p in self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"{head}\n{shown}{more}" if shown else head)


class InputError(BtrError):
    """An input file cannot be read at all (missing, binary, wrong format)."""

    exit_code = 1


class UsageError(BtrError):
    """The options contradict each other, e.g. an output path that is also an input."""

    exit_code = 2


class Interrupted(BtrError):
    """A run was stopped by a signal after writing whole records only."""

    def __init__(self, signum: int, done: str) -> None:
        import signal

        self.exit_code = 128 + signum
        super().__init__(
            f"stopped by {signal.Signals(signum).name} after {done}; --resume completes the output"
        )


class ConflictError(BtrError):
    """Local edits were kept and the differing remote values written aside."""

    exit_code = 3


class ServiceError(BtrError):
    """An external service (Label Studio, a Dask scheduler) failed."""

    exit_code = 4


class ModelError(BtrError):
    """A model directory is missing, incomplete or untrusted."""

    exit_code = 5


class MissingExtraError(BtrError):
    """An optional dependency is not installed; the message names the pip line."""

    exit_code = 5

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"this needs {package!r}, which is not installed: pip install 'btr[{extra}]'")


def require(module: str, extra: str):
    """Import an optional module, or raise :class:`MissingExtraError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(module.split(".")[0], extra) from err
