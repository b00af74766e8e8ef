"""Shared fixtures. Heavy fixtures (Label Studio server, tiny transformer) live here too."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from btr.corpus import DEFAULT_CORPUS
from btr.files import set_path
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
        set_path(record, dotted, value)
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
        record["exit_status"] = {"no_resignation": "refused", "unrelated": "no_exit"}.get(
            record["category"], "occurred"
        )
        cases.append(Case.model_validate(record))
    return cases


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> Path:
    """A small real linear model, trained on every sixth case of a copy of the corpus."""
    from btr.models import train

    root = tmp_path_factory.mktemp("tag-model")
    lines = DEFAULT_CORPUS.read_text(encoding="utf-8").splitlines()
    cases = root / "cases.jsonl"
    cases.write_text("\n".join(lines[::6]) + "\n", encoding="utf-8")
    train(kind="linear", out=root / "model", cases=cases, quiet=True)
    return root / "model"


@pytest.fixture(scope="session")
def corpus_path() -> Path:
    """The checked-in corpus."""
    return DEFAULT_CORPUS


# ------------------------------------------------------------------ Label Studio server

#: Test-only credentials of the throwaway servers (never a real account).
LS_TEST_USER = "admin@btr.test"
LS_TEST_PASSWORD = "btr-test-password"
LS_TEST_TOKEN = "b7e5c0ffee0123456789abcdef0123456789abcd"


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory):
    """A real Label Studio (the version pinned in btr.server) on 127.0.0.1, on a free port.

    The first session builds a migrated template data directory under
    ``build/`` (about 30 s); each session copies it and starts in a few
    seconds. The template is never used directly. Stopped with SIGTERM.
    """
    from btr.server import LABEL_STUDIO_VERSION, ROOT, LabelStudioServer

    creds = {"username": LS_TEST_USER, "password": LS_TEST_PASSWORD, "token": LS_TEST_TOKEN}
    template = ROOT / "build" / f"label-studio-{LABEL_STUDIO_VERSION}-test-template"
    template.parent.mkdir(parents=True, exist_ok=True)
    server = LabelStudioServer(tmp_path_factory.mktemp("label-studio"), template=template, **creds)
    server.init_template(template)
    server.start()
    yield server
    server.stop()


# ------------------------------------------------------------------ models

MODEL_CASES = DATA / "model_cases.jsonl"


@pytest.fixture(scope="session")
def model_cases_path() -> Path:
    """71 real cases in 46 events (a snapshot of curated cases, all five categories): model tests' data."""
    return MODEL_CASES


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory) -> Path:
    """A random 2-layer BERT with a WordPiece tokenizer trained on the test cases' texts; nothing downloaded."""
    from btr.corpus import case_rows, load_cases
    from btr.models import make_tiny_base_model

    texts = [row["text"] for case in load_cases(MODEL_CASES) for row in case_rows(case)]
    return make_tiny_base_model(tmp_path_factory.mktemp("tiny-bert"), texts, vocab_size=2000)


@pytest.fixture(scope="session")
def linear_model_dir(tmp_path_factory, model_cases_path) -> Path:
    """A linear model trained on the test cases (session-wide: tests must not modify it)."""
    from btr.models import train

    out = tmp_path_factory.mktemp("models") / "linear"
    train(kind="linear", out=out, cases=model_cases_path, quiet=True)
    return out
