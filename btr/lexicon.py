"""The exit lexicon: the cheap first stage of open-world tagging, and the cues of what became of an exit.

An ordinary news archive holds far fewer than one article in a hundred about anyone
leaving office. :func:`mentions_exit` tells, from a list of exit terms per language
kept as data (``btr/data/exit_lexicon.json``), whether an article can be about an
exit at all: an article that mentions none is ``unrelated`` without running a model,
which makes most of an archive cheap to tag. The terms are chosen for recall (its
floor, 0.995 on every relevant corpus text and news article, is measured by
``btr evaluate --news``); telling the rest apart is the model's job.

:func:`exit_sentences` keeps the sentences that hold an exit term, where whether the
official went, was removed, stayed or was only asked to go is told, and
:func:`cue_counts` counts in them the cues of demand, refusal, denial or rumour and
condition or future per language (:class:`btr.schema.ExitStatus`).

Examples
--------
>>> mentions_exit(["Le ministre a démissionné", "GDP grew 5% in the third quarter", "知事が引責辞任"]).tolist()
[True, False, True]
>>> cue_names()
['demanded', 'refused', 'denied_or_rumoured', 'conditional_or_future']
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from btr.text import fold, sentences

__all__ = [
    "cue_counts",
    "cue_names",
    "exit_sentences",
    "lexicon",
    "lexicon_languages",
    "mentions_exit",
    "trie_pattern",
]


@lru_cache(maxsize=1)
def lexicon() -> dict[str, Any]:
    """The lexicon file: ``{"terms": {language: [term, ...]}, "cues": {status: [cue, ...]}}``."""
    text = resources.files("btr").joinpath("data/exit_lexicon.json").read_text(encoding="utf-8")
    return json.loads(text)


def lexicon_languages() -> list[str]:
    """The languages (and Chinese scripts) the exit terms cover."""
    return list(lexicon()["terms"])


def cue_names() -> list[str]:
    """The cue groups, one per :class:`btr.schema.ExitStatus` that is not a plain exit or no exit."""
    return list(lexicon()["cues"])


def trie_pattern(words: Sequence[str]) -> str:
    """One regular expression for many literal words, as a trie: at each position the engine
    follows one branch per character instead of trying every word in turn (ten times faster
    than a plain alternation on 2 KB articles). The longest word wins where several match."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def render(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(char) + render(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return render(trie) or "(?!)"


def _variants(term: str) -> set[str]:
    """A term as it may appear in raw lower-cased text and in folded text."""
    return {term.lower(), fold(term)}


@lru_cache(maxsize=1)
def _raw_pattern() -> re.Pattern[str]:
    # Raw (lower-cased, unfolded) text is searched: folding costs more than the search, and the
    # lexicon lists Traditional forms beside Simplified ones for that reason.
    terms = {v for words in lexicon()["terms"].values() for term in words for v in _variants(term)}
    return re.compile(trie_pattern(sorted(terms)))


@lru_cache(maxsize=1)
def _folded_pattern() -> re.Pattern[str]:
    terms = {fold(term) for words in lexicon()["terms"].values() for term in words}
    return re.compile(trie_pattern(sorted(terms)))


@lru_cache(maxsize=1)
def _cue_patterns() -> list[re.Pattern[str]]:
    return [re.compile(trie_pattern(sorted({fold(c) for c in cues}))) for cues in lexicon()["cues"].values()]


def mentions_exit(texts: Sequence[str]) -> np.ndarray:
    """Boolean mask of the texts that hold at least one exit term of any language.

    Parameters
    ----------
    texts : sequence of str
        Raw texts, in any script.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    search = _raw_pattern().search
    folded = _folded_pattern().search
    # Raw text first (cheap); the folded form catches Traditional or full-width spellings
    # that the lexicon does not list.
    return np.fromiter(
        (search(t.lower()) is not None or (not t.isascii() and folded(fold(t)) is not None) for t in texts),
        dtype=bool,
        count=len(texts),
    )


def exit_terms(text: str) -> list[str]:
    """The exit terms found in a text (folded), in order; for explanations and error analysis."""
    return _folded_pattern().findall(fold(text))


def exit_sentences(folded: str) -> str:
    """The sentences of a folded text that hold an exit term, joined by spaces.

    Examples
    --------
    >>> exit_sentences("矿井发生爆炸。省长引咎辞职。救援仍在进行。")
    '省长引咎辞职。'
    """
    search = _folded_pattern().search
    return " ".join(folded[a:b] for a, b in sentences(folded) if search(folded, a, b))


def cue_counts(folded_exit_sentences: Sequence[str]) -> np.ndarray:
    """Counts of each cue group (:func:`cue_names`) in the exit sentences of each text.

    Returns
    -------
    numpy.ndarray of float32, shape (n, len(cue_names()))
    """
    patterns = _cue_patterns()
    out = np.zeros((len(folded_exit_sentences), len(patterns)), dtype=np.float32)
    for i, text in enumerate(folded_exit_sentences):
        if text:
            for j, pattern in enumerate(patterns):
                out[i, j] = len(pattern.findall(text))
    return out
