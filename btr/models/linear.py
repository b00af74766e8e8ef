"""The linear estimator: TF-IDF, keyword and cue features, one logistic regression per head."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from btr.lexicon import lexicon_fingerprint
from btr.models.heads import _HeadsMixin, _targets, _tempered, _texts, applies
from btr.schema import (
    HEADS,
    label_names,
)


def _lexicon_widths() -> tuple[int, int, int]:
    from btr.lexicon import category_cue_names, cue_names
    from btr.rules import keyword_columns

    return len(keyword_columns()), len(cue_names()), len(category_cue_names())


class LinearModel(_HeadsMixin, BaseEstimator):
    """TF-IDF features for Chinese and English and one logistic regression per head.

    Parameters
    ----------
    C : float
        Inverse regularisation strength of the logistic regressions. 10 rather than 3: in
        5-fold grouped cross-validation on 504 cases (``benchmarks/sweep_linear.py``) it
        raised trigger, responsibility and initiation macro-F1 by 0.5-2.4 points on two fold
        seeds, category by 1.4 points on one and not on the other.
    min_df : int or float
        Ignore features seen in fewer texts than this (a float: a share of the texts). A share
        drops names and one-off wording (cross-validated macro-F1 rose from 0.70 at 2 texts to
        0.80 at 1%). 0.5% rather than 1% since the training news articles joined the data
        (measured on the first 355 of them, ``benchmarks/sweep_linear.py``): in grouped 5-fold
        cross-validation category macro-F1 on those articles rose from 0.65 to 0.67 and is_btr
        F1 from 0.78 to 0.81 (0.3%: 0.66 and 0.80; 2%: 0.66 and 0.82 but 0.79 on the summaries).
    max_features : int or None
        Keep at most this many features (the most frequent).
    class_weight : "balanced" or None
        ``"balanced"`` weighs rare labels up, for macro-F1.
    lexicon : float
        Weight of the keyword features (:func:`btr.rules.keyword_counts`, log-scaled)
        beside the TF-IDF features; 0 leaves them out.
    lexicon_heads : tuple of str
        Heads that see their own keyword features; by default every head. ``category`` and
        ``exit_status`` were left out while the model learned from case summaries only (their
        keywords, "resigned", "dismissed", occur in texts of every category); with the training
        news articles (the first 360) they help: in grouped 5-fold cross-validation category
        macro-F1 on those articles rose from 0.67 to 0.68, is_btr F1 from 0.81 to 0.82 and
        exit-status accuracy from 0.84 to 0.86, the summaries unchanged (0.81).
    focus_heads : tuple of str
        Heads that also see features of the sentences about an exit
        (:func:`btr.lexicon.exit_sentences`), counted apart: whether an official resigned,
        was removed or stayed is told there (category macro-F1 0.80 to 0.82 in
        cross-validation; trigger does not gain).
    focus_sentences : int or None
        How many exit sentences those features read, from the start of the text; ``None``
        reads them all. The first is the headline or the lede of a report, where what happened
        to this exit is stated; later ones are often background (a demand, an earlier
        resignation). One rather than all: in grouped 5-fold cross-validation over the
        first 355 training news articles (``corpus/news_train.jsonl``, folds by event, the news
        evaluation set untouched) category macro-F1 on those articles rose from 0.62 to 0.65
        and is_btr F1 from 0.73 to 0.78.
    cues : float
        Weight of the cue counts (:func:`btr.lexicon.cue_counts`: demand, refusal, denial or
        rumour, condition or future, per language) in the exit sentences, log-scaled; 0 leaves
        them out. They tell an exit that happened from one only asked for, refused or rumoured.
    cue_heads : tuple of str
        Heads that see the cue counts.
    category_cues : float
        Weight of the category cue counts (:func:`btr.lexicon.category_cue_counts`: taking
        blame, removal, another reason, a post outside the state), counted in the exit
        sentences and in the whole text, log-scaled; 0 leaves them out.
    category_cue_heads : tuple of str
        Heads that see the category cue counts.
    calibrate : bool
        Fit one temperature per head on 3-fold out-of-fold predictions
        (:class:`sklearn.calibration.CalibratedClassifierCV`, ``method="temperature"``), so that
        scores are calibrated probabilities.
    heads : tuple of str or None
        Heads to learn, in ``y``'s column order; default all of :data:`btr.schema.HEADS`.
    random_state : int
        Seed (kept for the record; the solver is deterministic).

    Examples
    --------
    >>> from btr.models import LinearModel
    >>> texts = ["部长引咎辞职", "minister resigns over mine blast", "市长因病辞职", "mayor quits for health"]
    >>> y = [["btr"], ["btr"], ["other_resignation"], ["other_resignation"]]
    >>> m = LinearModel(heads=("category",)).fit(texts, y)
    >>> m.predict(["the minister resigns, taking blame for the blast"])[0, 0]
    'btr'
    """

    def __init__(
        self,
        *,
        C: float = 10.0,
        min_df: float = 0.005,
        max_features: int | None = 300_000,
        class_weight: str | None = "balanced",
        lexicon: float = 1.0,
        lexicon_heads: tuple[str, ...] = (
            "category",
            "trigger",
            "responsibility",
            "initiation",
            "exit_status",
        ),
        focus_heads: tuple[str, ...] = ("category", "exit_status"),
        focus_sentences: int | None = 1,
        cues: float = 1.0,
        cue_heads: tuple[str, ...] = ("category", "exit_status"),
        category_cues: float = 1.0,
        category_cue_heads: tuple[str, ...] = ("category",),
        calibrate: bool = True,
        heads: tuple[str, ...] | None = None,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.lexicon = lexicon
        self.lexicon_heads = lexicon_heads
        self.focus_heads = focus_heads
        self.focus_sentences = focus_sentences
        self.cues = cues
        self.cue_heads = cue_heads
        self.category_cues = category_cues
        self.category_cue_heads = category_cue_heads
        self.calibrate = calibrate
        self.min_df = min_df
        self.max_features = max_features
        self.class_weight = class_weight
        self.heads = heads
        self.random_state = random_state

    def fit(self, X: Sequence[str], y: Any) -> LinearModel:
        """Fit the vectorizer on every text and each head on the rows where it applies."""
        from btr.text import fold

        texts = _texts(X)
        heads = tuple(self.heads or HEADS)
        targets = _targets(y, heads)
        if len(texts) != len(next(iter(targets.values()))):
            raise ValueError(f"X has {len(texts)} texts but y has {len(next(iter(targets.values())))} rows")
        folded = [fold(t) for t in texts]
        self.vectorizer_ = self._vectorizer()
        self.focus_vectorizer_ = self._vectorizer() if self.focus_heads else None
        focus = self._focus(folded)
        features = (
            self.vectorizer_.fit_transform(folded),
            self._keyword_counts(folded),
            self.focus_vectorizer_.fit_transform(focus) if self.focus_heads else None,
            self._cue_counts(focus),
            self._category_cue_counts(folded, focus),
        )
        self.classifiers_: dict[str, Any] = {}
        self.classes_: dict[str, list[str]] = {}
        for head in heads:
            labels = targets[head]
            mask = applies(head, labels)
            if not mask.any():
                raise ValueError(f"no row has an applicable {head!r} label")
            sub = labels[mask].astype(str)
            clf = self._classifier(sub)
            clf.fit(self._head_features(features, head)[mask], sub)
            self.classifiers_[head] = clf
            self.classes_[head] = [str(c) for c in clf.classes_]
        self.heads_ = {head: label_names(HEADS[head]) for head in heads}
        self.lexicon_sha256_ = lexicon_fingerprint()
        self.lexicon_widths_ = _lexicon_widths()
        self._build_counters()
        return self

    def _check_lexicon(self) -> None:
        """Refuse word lists of another shape than the fitted ones; warn when they only differ."""
        widths = getattr(self, "lexicon_widths_", None)  # models saved before it: not checked
        if widths is None or self.lexicon_sha256_ == lexicon_fingerprint():
            return
        from btr.errors import ModelError

        if tuple(widths) != _lexicon_widths():
            raise ModelError(
                "this model was trained with other keyword and cue lists (btr/data/exit_lexicon.json, "
                f"btr/data/keywords.json): it counts {tuple(widths)} (keyword, cue, category cue) columns, "
                f"the installed lists give {_lexicon_widths()}; retrain it with `btr train`"
            )
        import warnings

        warnings.warn(
            "this model was trained with other versions of btr/data/exit_lexicon.json and "
            "btr/data/keywords.json; its scores may differ from its card until it is retrained",
            stacklevel=3,
        )

    def _classifier(self, labels: np.ndarray) -> Any:
        """A logistic regression, temperature-scaled on stratified 3-fold out-of-fold predictions
        when ``calibrate`` and every label has 3 rows or more (one parameter: the same ranking,
        probabilities that mean what they say); a prior when only one label occurs."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.dummy import DummyClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        if len(set(labels)) < 2:
            return DummyClassifier(strategy="prior")
        clf = LogisticRegression(
            C=self.C,
            class_weight=self.class_weight,
            solver="newton-cg",  # 10-20 times faster than lbfgs on these sparse problems
            max_iter=1000,
            random_state=self.random_state,
        )
        # Temperature scaling needs every label in every training fold: a fold without one
        # scores it at the float minimum, and that one row then drags the temperature to 0.
        if not self.calibrate or min(Counter(labels).values()) < 3:
            return clf
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=self.random_state)
        return CalibratedClassifierCV(clf, method="temperature", cv=folds, ensemble=False)

    def _vectorizer(self):
        from sklearn.feature_extraction.text import TfidfVectorizer

        from btr.text import analyze_folded

        return TfidfVectorizer(
            analyzer=analyze_folded,
            sublinear_tf=True,
            min_df=self.min_df,
            max_features=self.max_features,
            dtype=np.float32,
        )

    def _keyword_counts(self, folded: list[str]) -> np.ndarray | None:
        if not self.lexicon or not self.lexicon_heads:
            return None
        from btr.rules import keyword_counts

        return np.log1p(keyword_counts(folded, folded=True)) * np.float32(self.lexicon)

    def _cue_counts(self, focus: list[str]) -> np.ndarray | None:
        if not self.cues or not self.cue_heads:
            return None
        from btr.lexicon import cue_counts

        return np.log1p(cue_counts(focus)) * np.float32(self.cues)

    def _category_cue_counts(self, folded: list[str], focus: list[str]) -> np.ndarray | None:
        # models saved before the category cues have no such attribute: they go without
        if not getattr(self, "category_cues", 0) or not getattr(self, "category_cue_heads", ()):
            return None
        from btr.lexicon import category_cue_counts

        counts = np.hstack([category_cue_counts(focus), category_cue_counts(folded)])
        return np.log1p(counts) * np.float32(self.category_cues)

    def _features(self, texts: list[str]) -> tuple[Any, ...]:
        """The TF-IDF matrix, the (weighted, log-scaled) keyword counts, the exit-sentence TF-IDF,
        the cue counts of the exit sentences and the category cue counts."""
        from btr.text import fold

        self._check_lexicon()
        folded = [fold(t) for t in texts]
        sentences = self._focus(folded)
        focus = self._tfidf("focus_vectorizer_", sentences) if self.focus_vectorizer_ else None
        cues = self._cue_counts(sentences) if getattr(self, "cues", 0) else None
        categories = self._category_cue_counts(folded, sentences)
        return self._tfidf("vectorizer_", folded), self._keyword_counts(folded), focus, cues, categories

    def _tfidf(self, name: str, folded: list[str]):
        """``getattr(self, name).transform(folded)``, with the counting done by
        :class:`btr.text.VocabularyCounter` (the same matrix, several times faster)."""
        counter, tfidf = self._counters[name]
        return tfidf.transform(counter.transform(folded), copy=False)

    def _build_counters(self) -> None:
        # built once after fitting or loading, never by predict, and never persisted (__getstate__)
        from sklearn.feature_extraction.text import TfidfTransformer

        from btr.text import VocabularyCounter

        self._counters: dict[str, Any] = {}
        for name in self._VECTORIZERS:
            vectorizer = getattr(self, name, None)
            if vectorizer is None:
                continue
            tfidf = TfidfTransformer(
                norm=vectorizer.norm,
                use_idf=vectorizer.use_idf,
                smooth_idf=vectorizer.smooth_idf,
                sublinear_tf=vectorizer.sublinear_tf,
            )
            tfidf.idf_ = vectorizer.idf_
            self._counters[name] = (VocabularyCounter(vectorizer.vocabulary_), tfidf)

    def _focus(self, folded: list[str]) -> list[str]:
        from btr.lexicon import exit_sentences

        # models saved before focus_sentences read every exit sentence
        limit = getattr(self, "focus_sentences", None)
        return [exit_sentences(t, limit) for t in folded]

    def _head_features(self, features: tuple[Any, ...], head: str):
        """A head sees the TF-IDF columns, its own keyword columns if it is a lexicon head, the
        exit-sentence columns if it is a focus head and the cue counts if it is a cue head."""
        import scipy.sparse as sp

        from btr.rules import keyword_columns

        tfidf, counts, focus, cues, categories = features
        blocks = [tfidf]
        if counts is not None and head in self.lexicon_heads:
            own = [i for i, (h, _) in enumerate(keyword_columns()) if h == head]
            if own:
                blocks.append(sp.csr_matrix(counts[:, own]))
        if focus is not None and head in self.focus_heads:
            blocks.append(focus)
        if cues is not None and head in self.cue_heads:
            blocks.append(sp.csr_matrix(cues))
        if categories is not None and head in self.category_cue_heads:
            blocks.append(sp.csr_matrix(categories))
        return blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")

    # skops writes a dict entry by entry (slow and large for a vocabulary of 10^5 n-grams), so each
    # fitted vectorizer is stored as two arrays: its terms in column order and their idf weights.
    _VECTORIZERS = ("vectorizer_", "focus_vectorizer_")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a copy: BaseEstimator may return __dict__ itself
        state.pop("_counters", None)
        for name in self._VECTORIZERS:
            vectorizer = state.pop(name, None)
            if vectorizer is not None:
                vocabulary = vectorizer.vocabulary_
                state[name + "terms_"] = np.array(sorted(vocabulary, key=vocabulary.__getitem__), dtype=str)
                state[name + "idf_"] = np.asarray(vectorizer.idf_, dtype=np.float64)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        arrays = {
            name: (state.pop(name + "terms_", None), state.pop(name + "idf_", None))
            for name in self._VECTORIZERS
        }
        super().__setstate__(state)
        for name, (terms, idf) in arrays.items():
            if terms is not None:
                vectorizer = self._vectorizer()
                vectorizer.vocabulary_ = {term: i for i, term in enumerate(terms.tolist())}
                vectorizer.idf_ = idf
                setattr(self, name, vectorizer)
            elif name not in state and "classifiers_" in state:
                setattr(self, name, None)
        if "classifiers_" in state:
            self._build_counters()

    def head_proba(self, X: Sequence[str]) -> dict[str, np.ndarray]:
        """Per head, an ``(n, n_labels)`` array over the schema's labels; rows sum to 1."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "classifiers_")
        texts = _texts(X)
        if not texts:
            return {head: np.zeros((0, len(names))) for head, names in self.heads_.items()}
        features = self._features(texts)
        return {
            head: self._full(
                head, self.classes_[head], self._proba(head, clf, self._head_features(features, head))
            )
            for head, clf in self.classifiers_.items()
        }

    def _proba(self, head: str, clf: Any, features: Any) -> np.ndarray:
        temperatures = getattr(self, "temperatures_", None)
        if temperatures is not None:  # a model saved before CalibratedClassifierCV: its own temperature
            return _tempered(clf.predict_log_proba(features), temperatures[head])
        # the calibrator computes in the features' float32: renormalise in float64
        proba = np.asarray(clf.predict_proba(features), dtype=np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def explain(self, text: str, head: str = "category") -> tuple[int, int] | None:
        """The span ``(start, end)`` of the sentence that most supports the predicted label."""
        from btr.text import sentences

        spans = sentences(text)
        if not spans:
            return None
        label = self.predict([text])[0, list(self.heads_).index(head)]
        clf = self.classifiers_[head]
        classes = [str(c) for c in clf.classes_]
        if hasattr(clf, "calibrated_classifiers_"):
            # one fit on all rows (ensemble=False), on the labels encoded in the order of classes_
            clf = clf.calibrated_classifiers_[0].estimator
        if not hasattr(clf, "coef_"):
            return spans[0]
        row = classes.index(label) if len(classes) > 2 else 0
        sign = 1.0 if len(classes) > 2 or label == classes[1] else -1.0
        features = self._head_features(self._features([text[a:b] for a, b in spans]), head)
        scores = sign * (features @ clf.coef_[row])
        return spans[int(np.argmax(scores))]
