"""Shared fixtures. Heavy fixtures (Label Studio server, tiny transformer) live here too."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from btr.corpus import DEFAULT_CORPUS
from btr.schema import Case, Category

os.environ.setdefault("BTR_QUIET", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

DATA = Path(__file__).parent / "data"


@pytest.fixture
def seed() -> int:
    """A fixed seed; BTR_TEST_SEED widens the search when hunting flaky behaviour."""
    return int(os.environ.get("BTR_TEST_SEED", "0"))


@pytest.fixture
def good_record() -> dict:
    """One valid case record as a plain dict (a fresh copy per test)."""
    return json.loads((DATA / "good_case.json").read_text(encoding="utf-8"))


def make_record(base: dict, **changes) -> dict:
    """Copy ``base`` and apply dotted-path changes: ``make_record(r, **{"procedure.apology": "yes"})``."""
    record = copy.deepcopy(base)
    for dotted, value in changes.items():
        node = record
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value
    return record


@pytest.fixture
def synthetic_cases(good_record) -> list[Case]:
    """60 structurally varied cases over 30 events (for split and export mechanics, not facts)."""
    categories = [c.value for c in Category]
    cases = []
    for i in range(60):
        event = i // 2
        record = make_record(
            good_record,
            id=f"xx-{i:03d}",
            event_id=f"ev-{event:03d}",
            category=categories[event % len(categories)],
        )
        cases.append(Case.model_validate(record))
    return cases


@pytest.fixture(scope="session")
def corpus_path() -> Path:
    """The checked-in corpus."""
    return DEFAULT_CORPUS
