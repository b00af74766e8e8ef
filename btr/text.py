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
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

__all__ = ["analyze", "analyze_folded", "exit_sentences", "fold", "normalize", "sentences", "to_simplified"]

_SPACE_RE = re.compile(r"\s+")
# CJK unified ideographs (+ extension A and compatibility ideographs) and Latin words with digits.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Numbers are left out: years, tolls and dates identify cases, not categories.
_TOKEN_RE = re.compile(rf"([{_CJK}]+)|([a-z][a-z0-9'\-]*[a-z0-9]|[a-z])")
_SENTENCE_END_RE = re.compile(r"[。！？!?；;\n]+|(?<=[.])\s+(?=[A-Z\"“'‘(\u4e00-\u9fff])")
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


def to_simplified(text: str) -> str:
    """Fold Traditional characters to Simplified, character by character (OpenCC t2s table).

    Examples
    --------
    >>> to_simplified("國務院同意孟學農辭去職務")
    '国务院同意孟学农辞去职务'
    """
    return text.translate(_t2s_table())


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
    text = unicodedata.normalize("NFKC", text)
    return _SPACE_RE.sub(" ", to_simplified(text)).strip()


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


#: Words that say an official left, was removed or stayed (in folded text).
_EXIT_RE = re.compile(
    r"辞|免|撤职|撤销|解职|停职|下台|留任|卸任|去职|罢|不再担任|继续担任"
    r"|resign|quit|st(?:ep|epped|eps|ood|and|ands) (?:down|aside)|left office|dismiss|sack|fired|remov|oust"
    r"|relieved of|impeach|stay(?:ed|s)? on|remain|kept (?:his|her|their) (?:job|post|seat)"
)


def exit_sentences(folded: str) -> str:
    """The sentences of a folded text that say someone left, was removed or stayed in post.

    Whether an official resigned taking blame, was dismissed or stayed is told in
    these few sentences; in a long news article they are a small part of the text.

    Examples
    --------
    >>> exit_sentences("矿井发生爆炸。省长引咎辞职。救援仍在进行。")
    '省长引咎辞职。'
    """
    return " ".join(folded[a:b] for a, b in sentences(folded) if _EXIT_RE.search(folded, a, b))


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
