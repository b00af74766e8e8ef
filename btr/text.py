"""Text normalisation and features for Chinese and English together, without a word segmenter.

:func:`normalize` folds a text for the features only (the caller keeps the original):
Unicode NFKC (full-width letters and digits become ASCII), Traditional characters
folded to Simplified with OpenCC's t2s character table, and runs of whitespace
collapsed. :func:`analyze` turns a text into the features the linear model counts:
character 1-2-grams inside runs of CJK characters (most Chinese words have one or
two characters; trigrams added nothing in cross-validation and cost a third of the
time), and lower-cased word 1-2-grams plus 5-letter word prefixes on Latin script
(so ``resigned``, ``resigns`` and ``resignation`` share a feature without a stemmer).
Numbers are left out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import pairwise, repeat
from pathlib import Path

__all__ = [
    "VocabularyCounter",
    "analyze",
    "analyze_folded",
    "fold",
    "normalize",
    "sentences",
    "to_simplified",
]

# Runs of whitespace to one space (a lone space is left alone: most of a text's whitespace).
_SPACE_RE = re.compile(r"\s{2,}|[^\S ]")
# Scripts read as characters (no word segmenter): CJK ideographs (+ extension A and
# compatibility ideographs), Japanese kana and Korean Hangul syllables.
_CJK = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# Scripts read as words: lower-case Latin (with the accented letters of European languages)
# and Cyrillic. Numbers are left out: years, tolls and dates identify cases, not categories.
_LETTER = "a-z\u00df-\u00f6\u00f8-\u00ff\u0101-\u017f\u0430-\u045f"
_WORD = rf"[{_LETTER}][{_LETTER}0-9'\-]*[{_LETTER}0-9]|[{_LETTER}]"
_TOKEN_RE = re.compile(rf"([{_CJK}]+)|({_WORD})")
_CJK_RUN_RE = re.compile(rf"[{_CJK}]+")
_RUN = "\u4e00"  # holds token id 0, whose row finds nothing: the id of every CJK run
_TOKEN_OR_RUN_RE = re.compile(rf"[{_CJK}]+|{_WORD}")
_SENTENCE_END_RE = re.compile(
    r"[。！？!?；;\n]+|(?<=[.])\s+(?=[A-ZÀ-ÖØ-ÞА-ЯЁ\"“'‘«(\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af])"
    # a Latin full stop after a word, directly followed by CJK: mixed-script text without a space
    r"|(?<=[a-z][.])(?=[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af])"
)
_PREFIX = 5


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    """OpenCC's Traditional-to-Simplified character table as a ``str.translate`` map.

    The phrase table is left out on purpose: features are character n-grams, and
    ``str.translate`` runs in C, about a hundred times faster than OpenCC's
    pure-Python phrase segmentation, which matters when tagging millions of articles.
    """
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    table: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        trad, _, simp = line.partition("\t")
        if len(trad) == 1 and simp:
            table[ord(trad)] = simp.split()[0]
    return table


@lru_cache(maxsize=1)
def _t2s_codes():
    """:func:`_t2s_table` as an array: code point -> code point (every entry is one character)."""
    import numpy as np

    table = _t2s_table()
    codes = np.arange(max(table) + 1, dtype=np.uint32)
    for trad, simp in table.items():
        codes[trad] = ord(simp)
    return codes


def to_simplified(text: str) -> str:
    """Fold Traditional characters to Simplified, character by character (OpenCC t2s table).

    Examples
    --------
    >>> to_simplified("國務院同意孟學農辭去職務")
    '国务院同意孟学农辞去职务'
    """
    if text.isascii():
        return text
    import numpy as np

    # the same as text.translate(_t2s_table()), in NumPy: several times faster on long texts
    table = _t2s_codes()
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    mapped = np.where(codes < len(table), table[np.minimum(codes, len(table) - 1)], codes)
    return mapped.tobytes().decode("utf-32-le", "surrogatepass")


def normalize(text: str) -> str:
    """Fold a text for the features: NFKC, Traditional to Simplified, whitespace collapsed.

    Parameters
    ----------
    text : str
        Raw text in Chinese or English (or both).

    Returns
    -------
    str
        The folded text. Use it for features only; show users the original.

    Examples
    --------
    >>> normalize("衛生部長　張文康  引咎辭職")
    '卫生部长 张文康 引咎辞职'
    """
    if not text.isascii():
        text = to_simplified(unicodedata.normalize("NFKC", text))
    return _SPACE_RE.sub(" ", text).strip()


def fold(text: str) -> str:
    """:func:`normalize`, then lower case: the form features and keywords are read from."""
    return normalize(text).lower()


def analyze(text: str) -> list[str]:
    """Features of one text: CJK character 1-2-grams and Latin word 1-2-grams and prefixes.

    Character n-grams never span two CJK runs, and word bigrams never span a CJK
    run, so that mixed text gives the same features as its parts.

    Examples
    --------
    >>> analyze("引咎辞职")[:5]
    ['引', '咎', '辞', '职', '引咎']
    >>> analyze("Minister resigned")
    ['minister', 'resigned', '~minis', '~resig', 'minister resigned']
    """
    return analyze_folded(fold(text))


def analyze_folded(folded: str) -> list[str]:
    """:func:`analyze` of a text already passed through :func:`fold` (fold once, use twice)."""
    features: list[str] = []
    words: list[str] = []
    bigrams: list[str] = []
    for cjk, word in _TOKEN_RE.findall(folded):
        if cjk:
            if len(words) > 1:
                bigrams += [f"{a} {b}" for a, b in pairwise(words)]
            features += words
            features += ["~" + w[:_PREFIX] for w in words if len(w) > _PREFIX]
            words = []
            n = len(cjk)
            features += list(cjk)
            features += [cjk[i : i + 2] for i in range(n - 1)]
        else:
            words.append(word)
    if words:
        features += words
        features += ["~" + w[:_PREFIX] for w in words if len(w) > _PREFIX]
        bigrams += [f"{a} {b}" for a, b in pairwise(words)]
    return features + bigrams


class VocabularyCounter:
    """Counts the :func:`analyze_folded` features of a fixed vocabulary, vectorised with NumPy.

    ``CountVectorizer(analyzer=analyze_folded, vocabulary=vocabulary).transform`` builds
    a Python string for every n-gram of a text and looks each one up, although a
    fitted model knows only a few thousand of them. Here CJK 1-2-grams are looked up
    as code points in arrays, and Latin words, prefixes and word pairs through
    dictionaries mapped over C-level iterators: the same matrix, several times
    faster on long news articles.

    Parameters
    ----------
    vocabulary : mapping of str to int
        Feature to column, as in a fitted vectorizer's ``vocabulary_``.

    Examples
    --------
    >>> counter = VocabularyCounter({"辞": 0, "辞职": 1, "resigned": 2, "~resig": 3})
    >>> counter.transform(["他辞职。he resigned"]).toarray().tolist()
    [[1.0, 1.0, 1.0, 1.0]]
    """

    def __init__(self, vocabulary: Mapping[str, int]) -> None:
        import numpy as np

        self.n_features = max(vocabulary.values(), default=-1) + 1
        self._chars = np.full(0x10000, -1, dtype=np.int64)  # CJK unigram -> column
        self._pair_chars = np.full(0x10000, -1, dtype=np.int64)  # CJK char -> index in pairs
        char_pairs: dict[tuple[int, int], int] = {}
        self._words: dict[str, int] = {}
        self._prefixes: dict[str, int] = {}
        self._pair_words: dict[str, int] = {}
        word_pairs: dict[tuple[int, int], int] = {}
        n_chars = 0
        for term, column in vocabulary.items():
            cjk = _CJK_RUN_RE.fullmatch(term) is not None
            if cjk and len(term) == 1:
                self._chars[ord(term)] = column
            elif cjk and len(term) == 2:
                for char in term:
                    if self._pair_chars[ord(char)] < 0:
                        self._pair_chars[ord(char)] = n_chars
                        n_chars += 1
                char_pairs[int(self._pair_chars[ord(term[0])]), int(self._pair_chars[ord(term[1])])] = column
            elif term.startswith("~"):
                self._prefixes[term[1:]] = column
            elif " " in term:
                first, _, second = term.partition(" ")
                for word in (first, second):
                    self._pair_words.setdefault(word, len(self._pair_words))
                word_pairs[self._pair_words[first], self._pair_words[second]] = column
            else:
                self._words[term] = column
        self._pairs = _PairTable(char_pairs, n_chars)
        self._word_pairs = _PairTable(word_pairs, len(self._pair_words))
        # Latin tokens seen so far -> row of (word column, prefix column, index in word pairs):
        # news vocabulary repeats, so each token is looked up in the three tables once.
        self._token_ids: dict[str, int] = {_RUN: 0}
        self._token_rows = np.full((1024, 3), -1, dtype=np.int64)

    _CACHE_MAX = 100_000

    def _token_id(self, token: str) -> int:
        import numpy as np

        at = self._token_ids.setdefault(token, len(self._token_ids))
        if at >= len(self._token_rows):
            self._token_rows = np.concatenate([self._token_rows, np.full_like(self._token_rows, -1)])
        prefix = self._prefixes.get(token[:_PREFIX], -1) if len(token) > _PREFIX else -1
        self._token_rows[at] = (self._words.get(token, -1), prefix, self._pair_words.get(token, -1))
        return at

    def columns(self, folded: str):
        """The column of every in-vocabulary feature occurrence of one folded text."""
        import numpy as np

        codes = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
        codes[codes > 0xFFFF] = 0  # outside the BMP: neither CJK nor a Latin letter
        found = [self._chars[codes]]
        pair_chars = self._pair_chars[codes]
        both = (pair_chars[:-1] >= 0) & (pair_chars[1:] >= 0)
        if both.any():
            found.append(self._pairs.lookup(pair_chars[:-1][both], pair_chars[1:][both]))
        if len(self._token_ids) > self._CACHE_MAX:  # a soft bound on memory over millions of texts
            self._token_ids = {_RUN: 0}
        # Each CJK run is one token, which no table holds: word pairs do not span it.
        tokens = _TOKEN_OR_RUN_RE.findall(folded)
        if tokens:
            ids = np.fromiter(map(self._token_ids.get, tokens, repeat(-1)), np.int64, len(tokens))
            for k in np.flatnonzero(ids < 0).tolist():
                token = tokens[k]
                # a CJK run (its script starts after every letter of _WORD) is not cached
                ids[k] = 0 if token[0] >= "\u3040" else self._token_id(token)
            rows = self._token_rows[ids]
            found += [rows[:, 0], rows[:, 1]]
            index = rows[:, 2]
            both = (index[:-1] >= 0) & (index[1:] >= 0)
            if both.any():
                found.append(self._word_pairs.lookup(index[:-1][both], index[1:][both]))
        columns = np.concatenate(found)
        return columns[columns >= 0]

    def transform(self, folded_texts: Sequence[str]):
        """A ``(n_texts, n_features)`` CSR matrix of counts (float32), as CountVectorizer gives."""
        import numpy as np
        import scipy.sparse as sp

        per_text = [self.columns(text) for text in folded_texts]
        columns = np.concatenate(per_text) if per_text else np.zeros(0, dtype=np.int64)
        rows = np.repeat(np.arange(len(per_text)), [len(c) for c in per_text])
        # one sorted pass counts each (row, column) cell and leaves columns sorted within rows
        cells, counts = np.unique(rows * self.n_features + columns, return_counts=True)
        indptr = np.zeros(len(per_text) + 1, dtype=np.int64)
        np.cumsum(np.bincount(cells // self.n_features, minlength=len(per_text)), out=indptr[1:])
        return sp.csr_matrix(
            (counts.astype(np.float32), cells % self.n_features, indptr),
            shape=(len(per_text), self.n_features),
        )


class _PairTable:
    """Column of a pair ``(i, j)`` of small indices: a dense table when it fits, else a sorted search."""

    _DENSE_MAX = 1 << 22

    def __init__(self, pairs: Mapping[tuple[int, int], int], size: int) -> None:
        import numpy as np

        self.size = size
        if size * size <= self._DENSE_MAX:
            self.table = np.full(size * size, -1, dtype=np.int64)
            for (i, j), column in pairs.items():
                self.table[i * size + j] = column
        else:
            self.table = None
            keys = sorted((i * size + j, column) for (i, j), column in pairs.items())
            self.keys = np.array([k for k, _ in keys], dtype=np.int64)
            self.columns = np.array([c for _, c in keys], dtype=np.int64)

    def lookup(self, first, second):
        import numpy as np

        keys = first * self.size + second
        if self.table is not None:
            return self.table[keys]
        if not len(self.keys):
            return np.full(len(keys), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[at] == keys, self.columns[at], -1)


def sentences(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of a text, Chinese or English.

    Spans index the text as given, so that callers can quote the original.

    Examples
    --------
    >>> text = "他辞职了。原因是事故。"
    >>> [text[a:b] for a, b in sentences(text)]
    ['他辞职了。', '原因是事故。']
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        end = match.end()
        if text[start:end].strip():
            spans.append(_strip_span(text, start, end))
        start = end
    if text[start:].strip():
        spans.append(_strip_span(text, start, len(text)))
    return spans


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
