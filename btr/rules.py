"""Keyword rules: per head, keyword lists in Chinese and English, for the trigger in every
language of the exit lexicon (``btr/data/keywords.json``).

They serve twice: as the keyword-rule baseline of :mod:`btr.evaluate`
(:func:`predict_rules`), and as a few dozen lexicon features of the linear model
(:func:`keyword_counts`), which carry what the codebook knows about each label to
texts whose wording the small corpus never showed.

A label scores one point per distinct keyword found in the normalised text
(:func:`btr.text.normalize`, lower-cased); the highest score wins, ties go to the
label listed first, and a text with no hit gets the head's default label. Latin
keywords match whole words with an optional -s, -es, -ed or -ing ("protest" matches
"protested"; "fire" does not match "fired").
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from btr.lexicon import lexicon
from btr.schema import HEADS, label_names
from btr.text import _CJK_RUN_RE, fold, normalize

__all__ = ["keyword_columns", "keyword_counts", "keyword_rules", "predict_rules"]


@lru_cache(maxsize=1)
def keyword_rules() -> dict[str, dict]:
    """The rules, checked against the schema: ``{head: {"default": label, "labels": {label: [words]}}}``."""
    raw = json.loads(resources.files("btr").joinpath("data/keywords.json").read_text(encoding="utf-8"))
    rules = {}
    for head, labels in HEADS.items():
        names = label_names(labels)
        # the exit-status rules are the cues of the exit lexicon: one list, kept in one file
        spec = raw[head] if head in raw else {"default": "occurred", "labels": lexicon()["cues"]}
        unknown = [label for label in [spec["default"], *spec["labels"]] if label not in names]
        if unknown:
            raise ValueError(f"btr/data/keywords.json: {head}: labels not in the schema: {unknown}")
        rules[head] = {
            "default": spec["default"],
            "labels": {
                # once each after folding: 火災 (ja) and 火灾 (zh) are one keyword, counted once
                label: list(dict.fromkeys(normalize(w).lower() for w in words))
                for label, words in spec["labels"].items()
            },
        }
    return rules


@lru_cache(maxsize=1)
def keyword_columns() -> list[tuple[str, str]]:
    """The ``(head, label)`` of each column of :func:`keyword_counts`, in rule order."""
    return [
        (head, label)
        for head, spec in keyword_rules().items()
        for label, words in spec["labels"].items()
        if words
    ]


@lru_cache(maxsize=1)
def _matcher() -> tuple[Any, list[tuple[re.Pattern[str], Any]], dict[str, list[int]]]:
    """An Aho-Corasick automaton for the ASCII keywords; for the others, one per script group
    (CJK, kana and Hangul; the rest: accented Latin, Cyrillic), each with a pattern of the
    characters one of its keywords must hold; and the columns each keyword counts for."""
    import ahocorasick

    columns = {pair: i for i, pair in enumerate(keyword_columns())}
    owners: dict[str, list[int]] = {}
    for head, spec in keyword_rules().items():
        for label, words in spec["labels"].items():
            for word in words:
                owners.setdefault(word, []).append(columns[(head, label)])
    latin = ahocorasick.Automaton()
    groups: dict[bool, list[str]] = {True: [], False: []}
    for word in owners:
        if word.isascii():
            latin.add_word(word, word)
        else:
            groups[_CJK_RUN_RE.search(word) is not None].append(word)
    latin.make_automaton()
    # Two scans find what one longest-match scan over all of them would because no keyword
    # of one group can overlap one of the other (a data check of the test suite).
    scans = []
    for east_asian, words in groups.items():
        automaton = ahocorasick.Automaton()
        for word in words:
            automaton.add_word(word, word)
        automaton.make_automaton()
        if east_asian:
            needed = _CJK_RUN_RE
        else:  # each keyword of the rest holds one of its non-ASCII characters
            marks = sorted({char for word in words for char in word if not char.isascii()})
            needed = re.compile("[" + "".join(map(re.escape, marks)) + "]" if marks else "(?!)")
        scans.append((needed, automaton))
    return latin, scans, owners


def _latin_words(text: str, automaton: Any) -> set[str]:
    """Latin keywords found as whole words (ASCII word boundaries, so that a CJK character next to
    a word is a boundary), with an optional inflection."""
    found = set()
    for end, word in automaton.iter(text):
        start = end - len(word) + 1
        if start and text[start - 1] in _WORD_CHARS:
            continue
        after = end + 1
        if after < len(text) and text[after] in _WORD_CHARS:
            tail = _INFLECTION.match(text, after)
            if tail is None:
                continue
        found.add(word)
    return found


_WORD_CHARS = frozenset(string.ascii_letters + string.digits + "_")


_INFLECTION = re.compile(r"(?:s|es|ed|ing)\b", re.ASCII)


def keyword_counts(texts: Sequence[str], *, folded: bool = False) -> np.ndarray:
    """Distinct keywords found per text and ``(head, label)`` column (:func:`keyword_columns`).

    ``folded=True`` says the texts are already :func:`btr.text.fold`-ed. CJK keywords do not
    overlap (事故 inside 安全事故 is not counted again); Latin ones match whole words.
    """
    latin, scans, owners = _matcher()
    counts = np.zeros((len(texts), len(keyword_columns())), dtype=np.float32)
    for i, text in enumerate(texts):
        text = text if folded else fold(text)
        found = _latin_words(text, latin)
        if not text.isascii():  # an English text has no other keyword to look for
            for needed, automaton in scans:
                if needed.search(text):  # a European text skips the CJK scan
                    found.update(word for _, word in automaton.iter_long(text))
        for word in found:
            for column in owners[word]:
                counts[i, column] += 1
    return counts


def predict_rules(texts: Sequence[str]) -> dict[str, list[str]]:
    """Per head, the keyword-rule label of each text.

    Examples
    --------
    >>> predict_rules(["卫生部长因非典疫情引咎辞职"])["trigger"]
    ['public_health']
    """
    counts = keyword_counts(texts)
    columns = keyword_columns()
    out: dict[str, list[str]] = {}
    for head, spec in keyword_rules().items():
        idx = [i for i, (h, _) in enumerate(columns) if h == head]
        scores = counts[:, idx]
        best = scores.argmax(axis=1)  # the first maximum: ties go to the label listed first
        out[head] = [columns[idx[j]][1] if scores[i, j] > 0 else spec["default"] for i, j in enumerate(best)]
    return out
