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
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from btr.text import fold

__all__ = [
    "category_cue_counts",
    "category_cue_names",
    "cue_counts",
    "cue_names",
    "exit_sentences",
    "lexicon",
    "lexicon_fingerprint",
    "lexicon_languages",
    "mentions_exit",
    "trie_pattern",
]


@lru_cache(maxsize=1)
def lexicon() -> dict[str, Any]:
    """The lexicon file: ``{"terms": {language: [term, ...]}, "cues": {status: [cue, ...]}}``."""
    text = resources.files("btr").joinpath("data/exit_lexicon.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def lexicon_fingerprint() -> str:
    """SHA-256 of the word lists the features are read from (``btr/data/exit_lexicon.json`` and
    ``btr/data/keywords.json``): a fitted model records it, so that a model meeting other lists
    says so instead of scoring features that mean something else."""
    import hashlib

    digest = hashlib.sha256()
    for name in ("exit_lexicon.json", "keywords.json"):
        digest.update(resources.files("btr").joinpath(f"data/{name}").read_bytes())
    return digest.hexdigest()


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
    """A term as it may appear in lower-cased raw text: as listed, folded (NFKC, Simplified),
    and in Traditional script, so that the gate never needs to fold a text."""
    folded = fold(term)
    variants = {term.lower(), folded}
    if not folded.isascii():
        variants.add(_to_traditional(folded))
    return variants


@lru_cache(maxsize=1)
def _to_traditional_converter() -> Any:
    import opencc

    return opencc.OpenCC("s2t")


def _to_traditional(text: str) -> str:
    return _to_traditional_converter().convert(text)


@lru_cache(maxsize=1)
def _automaton() -> Any:
    # Aho-Corasick reads a text once whatever the number of terms: the gate runs on every
    # article of an archive, and a regular expression costs twice as much on 2 KB of text.
    data = lexicon()
    word_start = set(data.get("word_start", ()))
    whole = {fold(word) for word in data.get("whole_words", ())}
    groups = [*data["terms"].items(), *data.get("gate_only", {}).items()]
    # a term must start a word only if every language listing it says so: German and Dutch
    # build compounds ("Ministerrücktritt"), English and the Romance languages do not
    starts: dict[str, bool] = {}
    for language, words in groups:
        for term in words:
            for variant in _variants(term):
                starts[variant] = starts.get(variant, True) and language in word_start
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for variant, start in starts.items():
        automaton.add_word(variant, (len(variant), start, fold(variant) in whole))
    automaton.make_automaton()
    return automaton


def _matches(text: str, automaton: Any) -> bool:
    for end, (length, start, whole) in automaton.iter(text):
        begin = end - length + 1
        if start and begin > 0 and text[begin - 1].isalpha():
            continue  # "quitter" is not "quit", "department" not "depart"
        if whole and end + 1 < len(text) and text[end + 1].isalpha():
            continue
        return True
    return False


def _mentions(text: str, automaton: Any) -> bool:
    lowered = text.lower()
    if _matches(lowered, automaton):
        return True
    # full-width Latin and half-width kana spell terms the lexicon lists in their usual width
    if not text.isascii() and _ODD_WIDTH.search(lowered):
        return _matches(unicodedata.normalize("NFKC", lowered), automaton)
    return False


_ODD_WIDTH = re.compile("[\uff21-\uff3a\uff41-\uff5a\uff66-\uff9f]")


@lru_cache(maxsize=1)
def _folded_pattern() -> re.Pattern[str]:
    terms = {fold(term) for words in lexicon()["terms"].values() for term in words}
    return re.compile(trie_pattern(sorted(terms)))


@lru_cache(maxsize=1)
def _cue_automata() -> tuple[Any, int]:
    return _grouped_automaton(lexicon()["cues"])


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
    automaton = _automaton()
    return np.fromiter((_mentions(t, automaton) for t in texts), dtype=bool, count=len(texts))


def exit_terms(text: str) -> list[str]:
    """The exit terms found in a text (folded), in order; for explanations and error analysis."""
    return _folded_pattern().findall(fold(text))


def exit_sentences(folded: str, limit: int | None = None) -> str:
    """The sentences of a folded text that hold an exit term, joined by spaces.

    Folded text is lower case, so a Latin sentence ends at a full stop and a space
    whatever follows (an abbreviation may split a sentence: harmless for features).

    Parameters
    ----------
    folded : str
    limit : int, optional
        Keep only the first ``limit`` such sentences. A report states its news first (the
        headline, the lede); later exit sentences are often background (a demand, an earlier
        resignation) that blurs what happened to this exit.

    Examples
    --------
    >>> exit_sentences("矿井发生爆炸。省长引咎辞职。救援仍在进行。")
    '省长引咎辞职。'
    >>> exit_sentences("the minister resigned. talks went on. critics had urged him to quit.")
    'the minister resigned. critics had urged him to quit.'
    >>> exit_sentences("the minister resigned. talks went on. critics had urged him to quit.", limit=1)
    'the minister resigned.'
    """
    # Hits come in text order and no exit term ends in a sentence mark or a space, so each
    # sentence is found by searching around its first hit: with a limit, the scan stops at
    # the last sentence kept (the lede, for one) instead of reading the whole article.
    spans: list[str] = []
    stop = 0
    for hit, _ in _folded_automaton().iter(folded):
        if hit < stop:
            continue  # another term of the sentence just kept
        start = stop
        for mark in _FOLDED_SENTENCE_END.finditer(folded, stop, hit + 1):
            start = mark.end()
        mark = _FOLDED_SENTENCE_END.search(folded, hit + 1)
        stop = mark.end() if mark else len(folded)
        spans.append(folded[start:stop].strip())
        if len(spans) == limit:
            break
    return " ".join(spans)


_FOLDED_SENTENCE_END = re.compile(r"[。！？!?；;\n]+|(?<=\.)\s+")


@lru_cache(maxsize=1)
def _folded_automaton() -> Any:
    return _build_automaton({fold(term) for words in lexicon()["terms"].values() for term in words})


def _build_automaton(words: set[str]) -> Any:
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for word in words:
        automaton.add_word(word, word)
    automaton.make_automaton()
    return automaton


def category_cue_names() -> list[str]:
    """The cue groups of the kind of exit: taking blame, removal, another reason, a post outside the state."""
    return list(lexicon().get("category_cues", {}))


@lru_cache(maxsize=1)
def _category_cue_automata() -> tuple[Any, int]:
    return _grouped_automaton(lexicon().get("category_cues", {}))


def _grouped_automaton(groups: dict[str, list[str]]) -> tuple[Any, int]:
    # one automaton for all groups, each word carrying the groups that list it: a text is
    # read once, not once per group
    import ahocorasick

    owners: dict[str, list[int]] = {}
    for j, cues in enumerate(groups.values()):
        for cue in {fold(c) for c in cues}:
            owners.setdefault(cue, []).append(j)
    automaton = ahocorasick.Automaton()
    for cue, columns in owners.items():
        automaton.add_word(cue, tuple(columns))
    if owners:
        automaton.make_automaton()
    return automaton, len(groups)


def category_cue_counts(folded: Sequence[str]) -> np.ndarray:
    """Counts of each category cue group (:func:`category_cue_names`) in each folded text.

    The exit sentences say that someone went; whether he or she took the blame, was removed,
    left for health or held a company post is often said in the sentences around them, so
    these are counted both there and in the whole text (:class:`btr.models.LinearModel`).

    Returns
    -------
    numpy.ndarray of float32, shape (n, len(category_cue_names()))
    """
    return _count(_category_cue_automata(), folded)


def _count(grouped: tuple[Any, int], texts: Sequence[str]) -> np.ndarray:
    automaton, width = grouped
    out = np.zeros((len(texts), width), dtype=np.float32)
    if not width:
        return out
    for i, text in enumerate(texts):
        if text:
            row = out[i]
            # non-overlapping, longest first: "refused to resign" counts once, not twice
            for _, columns in automaton.iter_long(text):
                for j in columns:
                    row[j] += 1
    return out


def cue_counts(folded_exit_sentences: Sequence[str]) -> np.ndarray:
    """Counts of each cue group (:func:`cue_names`) in the exit sentences of each text.

    Returns
    -------
    numpy.ndarray of float32, shape (n, len(cue_names()))
    """
    return _count(_cue_automata(), folded_exit_sentences)
