"""Where btr's own files are: resolved once from this file, never from the current directory.

A command run from another directory (``btr tag -`` in a news archive) finds the
checked-in corpus and the shipped model all the same. ``BTR_CORPUS`` points the
default corpus elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CORPUS_DIR",
    "DEFAULT_CORPUS",
    "DEFAULT_EXITS",
    "DEFAULT_MODEL",
    "DEFAULT_NEWS",
    "DEFAULT_NEWS_TRAIN",
    "DEFAULT_UNRELATED",
    "MODELS_DIR",
    "ROOT",
]

#: The checkout (or installed tree) that holds ``btr/``, ``corpus/`` and ``models/``.
ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = ROOT / "corpus"
MODELS_DIR = ROOT / "models"
DEFAULT_CORPUS = Path(os.environ.get("BTR_CORPUS", CORPUS_DIR / "cases.jsonl"))
DEFAULT_UNRELATED = CORPUS_DIR / "unrelated.jsonl"
DEFAULT_EXITS = CORPUS_DIR / "exits.jsonl"
DEFAULT_NEWS = CORPUS_DIR / "news_dev.jsonl"
DEFAULT_NEWS_TRAIN = CORPUS_DIR / "news_train.jsonl"
DEFAULT_MODEL = MODELS_DIR / "default"
