"""The library's defaults, in one place: the CLI and the modules import them from here.

Kept free of heavy imports, so that ``btr --help`` stays fast.
"""

from __future__ import annotations

import os

__all__ = [
    "DEFAULT_BASE_MODEL",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_DELAY_DAYS",
    "ENGINES",
    "FORMATS",
    "KINDS",
    "quiet_default",
]

#: Model kinds ``btr train --model`` builds.
KINDS = ("linear", "transformer")
#: The transformer checkpoint used when none is named.
DEFAULT_BASE_MODEL = "bert-base-chinese"
#: Output formats and engines of ``btr tag``, and the articles per prediction batch.
FORMATS = ("jsonl", "csv")
ENGINES = ("local", "dask")
DEFAULT_BATCH_SIZE = 512
#: Days from the event to the announced resignation beyond which the ``long_delay`` rule flags.
DEFAULT_DELAY_DAYS = 60


def quiet_default(quiet: bool | None) -> bool:
    """Progress bars are off when ``quiet`` is true or the environment sets ``BTR_QUIET``
    (to anything but empty or ``0``: ``1``, ``true``, ``yes``)."""
    if quiet is not None:
        return quiet
    return os.environ.get("BTR_QUIET", "") not in ("", "0")
