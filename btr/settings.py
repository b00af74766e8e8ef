"""The library's defaults, in one place: the CLI and the modules import them from here.

Kept free of heavy imports, so that ``btr --help`` stays fast.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_BASE_MODEL",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_DELAY_DAYS",
    "ENGINES",
    "FORMATS",
    "KINDS",
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
