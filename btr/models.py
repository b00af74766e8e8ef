"""Classifiers for the four heads, one predict interface, and the ``models/NAME/`` layout.

Two estimators follow scikit-learn's contract (keyword-only ``__init__`` that only
stores, ``fit`` returns ``self``, learned attributes end in ``_``), so that ``clone``
and cross-validation work on both:

- :class:`LinearModel`: TF-IDF over features that work for Chinese and English
  together without a segmenter (:func:`btr.text.analyze`), one multinomial
  logistic regression per head.
- :class:`TransformerModel`: any Hugging Face checkpoint (hub name or local path),
  one shared encoder, one linear head per label field, trained with a plain torch loop.

``X`` is a sequence of raw texts; ``y`` is an array of shape ``(n, len(HEADS))``
with one label name per head (columns in :data:`btr.schema.HEADS` order), or a
mapping ``{head: labels}``.

Heads other than ``category`` learn only from rows where their label applies
(:data:`NOT_APPLICABLE`): ``trigger`` from rows with a blamed event (not ``none``),
``responsibility`` from rows whose basis of blame is known (not ``none`` or
``unclear``), ``initiation`` from rows where a resignation happened and its
initiator is known (not ``not_applicable`` or ``unknown``). Their predictions are
therefore conditional: "if this is about a blamed exit, which trigger?". Read them
together with ``category``.

A saved model is a directory::

    models/NAME/
        meta.json           validated by :class:`ModelMeta`
        README.md           model card generated from meta.json
        model.skops         (linear) loaded with an explicit list of trusted types
        encoder/            (transformer) config, model.safetensors and tokenizer
        heads.safetensors   (transformer) one linear layer per head

Examples
--------
>>> from btr.models import load_model                     # doctest: +SKIP
>>> model = load_model("models/default")                  # doctest: +SKIP
>>> model.predict(["山西省省长孟学农因襄汾溃坝事故引咎辞职"])[0]["category"]  # doctest: +SKIP
{'label': 'btr', 'score': 0.93}
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import time
import zipfile
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sklearn.base import BaseEstimator

from btr.errors import InputError, ModelError, require
from btr.schema import (
    CATEGORY_EXIT_STATUSES,
    CATEGORY_FIXED_LABELS,
    HEADS,
    UNRELATED_LABELS,
    Category,
    ExitStatus,
    label_names,
)

__all__ = [
    "NOT_APPLICABLE",
    "LinearModel",
    "Model",
    "ModelMeta",
    "TransformerModel",
    "applies",
    "joint_category_exit",
    "load_model",
    "make_estimator",
    "open_world_proba",
    "render_card",
    "rows_to_xy",
    "settle_fixed_labels",
    "train",
    "training_rows",
]

#: Labels meaning "this head does not apply here" or "cannot be told": such rows neither
#: train nor score the head. ``category`` applies to every row.
NOT_APPLICABLE: dict[str, frozenset[str]] = {
    "category": frozenset(),
    "trigger": frozenset({"none"}),
    "responsibility": frozenset({"none", "unclear"}),
    "initiation": frozenset({"not_applicable", "unknown"}),
    "exit_status": frozenset(),
}

KINDS = ("linear", "transformer")
_SKOPS_FILE = "model.skops"
_HEADS_FILE = "heads.safetensors"
_ENCODER_DIR = "encoder"

#: Types a linear ``model.skops`` may hold beyond skops' own defaults (scikit-learn estimators,
#: numpy arrays, builtins). Loading refuses a file holding anything else.
TRUSTED_TYPES = ["btr.models.LinearModel"]


def quiet_default(quiet: bool | None) -> bool:
    """Progress bars are off when ``quiet`` is true or the environment sets ``BTR_QUIET=1``."""
    if quiet is not None:
        return quiet
    return os.environ.get("BTR_QUIET", "") not in ("", "0")


def applies(head: str, labels: Sequence[str]) -> np.ndarray:
    """Boolean mask of the rows whose ``head`` label applies (see :data:`NOT_APPLICABLE`)."""
    excluded = NOT_APPLICABLE[head]
    return np.array([label not in excluded for label in labels], dtype=bool)


def _targets(y: Any, heads: Sequence[str]) -> dict[str, np.ndarray]:
    if isinstance(y, Mapping):
        return {head: np.asarray(y[head], dtype=object) for head in heads}
    arr = np.asarray(y, dtype=object)
    if arr.ndim == 1 and len(heads) == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != len(heads):
        raise ValueError(
            f"y must have shape (n_samples, {len(heads)}) with columns {list(heads)}; got {arr.shape}"
        )
    return {head: arr[:, i] for i, head in enumerate(heads)}


def _texts(X: Any) -> list[str]:
    if isinstance(X, str):
        raise ValueError("X must be a sequence of texts, not one string")
    texts = list(X)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"X[{i}] is {type(text).__name__}, not a text (str)")
    return texts


def rows_to_xy(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], np.ndarray]:
    """Texts and the ``(n, len(HEADS))`` label array from :func:`btr.corpus.case_rows` rows."""
    texts = [row["text"] for row in rows]
    y = np.array([[row[head] for head in HEADS] for row in rows], dtype=object).reshape(len(rows), len(HEADS))
    return texts, y


class _HeadsMixin:
    """``predict`` and the schema label space, shared by both estimators."""

    def _full(self, head: str, classes: Sequence[str], proba: np.ndarray) -> np.ndarray:
        names = label_names(HEADS[head])
        out = np.zeros((proba.shape[0], len(names)), dtype=np.float64)
        for j, label in enumerate(classes):
            out[:, names.index(label)] = proba[:, j]
        return out

    def predict(self, X: Sequence[str]) -> list[dict[str, dict[str, Any]]]:
        """Per text, ``{head: {"label": name, "score": probability}}``."""
        proba = self.predict_proba(X)
        n = len(next(iter(proba.values()))) if proba else 0
        result: list[dict[str, dict[str, Any]]] = [{} for _ in range(n)]
        for head, p in proba.items():
            names = label_names(HEADS[head])
            best = p.argmax(axis=1)
            for i, j in enumerate(best):
                result[i][head] = {"label": names[j], "score": float(p[i, j])}
        return result


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
        Ignore features seen in fewer texts than this (a float: a share of the texts). The
        default, 1%, drops names and one-off wording: cross-validated macro-F1 rose from 0.70
        (2 texts) to 0.80, and rare phrasing of the corpus is what real news does not share.
    max_features : int or None
        Keep at most this many features (the most frequent).
    class_weight : "balanced" or None
        ``"balanced"`` weighs rare labels up, for macro-F1.
    lexicon : float
        Weight of the keyword features (:func:`btr.rules.keyword_counts`, log-scaled)
        beside the TF-IDF features; 0 leaves them out.
    lexicon_heads : tuple of str
        Heads that see their own keyword features. ``category`` is left out by
        default: its keywords ("resigned", "dismissed") appear in texts of every
        category, so they add noise there.
    focus_heads : tuple of str
        Heads that also see features of the sentences about an exit
        (:func:`btr.lexicon.exit_sentences`), counted apart: whether an official resigned,
        was removed or stayed is told there (category macro-F1 0.80 to 0.82 in
        cross-validation; trigger does not gain).
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
        (:func:`_fit_temperature`), so that scores are calibrated probabilities.
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
    >>> m.predict(["the minister resigns, taking blame for the blast"])[0]["category"]["label"]
    'btr'
    """

    def __init__(
        self,
        *,
        C: float = 10.0,
        min_df: float = 0.01,
        max_features: int | None = 300_000,
        class_weight: str | None = "balanced",
        lexicon: float = 1.0,
        lexicon_heads: tuple[str, ...] = ("trigger", "responsibility", "initiation"),
        focus_heads: tuple[str, ...] = ("category", "exit_status"),
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
        from sklearn.dummy import DummyClassifier
        from sklearn.linear_model import LogisticRegression

        texts = _texts(X)
        heads = tuple(self.heads or HEADS)
        targets = _targets(y, heads)
        if len(texts) != len(next(iter(targets.values()))):
            raise ValueError(f"X has {len(texts)} texts but y has {len(next(iter(targets.values())))} rows")
        from btr.text import fold

        folded = [fold(t) for t in texts]
        self.__dict__.pop("_fast_cache", None)
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
        self.temperatures_: dict[str, float] = {}
        for head in heads:
            labels = targets[head]
            mask = applies(head, labels)
            if not mask.any():
                raise ValueError(f"no row has an applicable {head!r} label")
            sub = labels[mask].astype(str)
            if len(set(sub)) < 2:
                clf = DummyClassifier(strategy="prior")
            else:
                clf = LogisticRegression(
                    C=self.C,
                    class_weight=self.class_weight,
                    solver="newton-cg",  # 10-20 times faster than lbfgs on these sparse problems
                    max_iter=1000,
                    random_state=self.random_state,
                )
            head_features = self._head_features(features, head)[mask]
            clf.fit(head_features, sub)
            self.classifiers_[head] = clf
            self.classes_[head] = [str(c) for c in clf.classes_]
            fit_t = self.calibrate and len(set(sub)) > 1
            self.temperatures_[head] = (
                _fit_temperature(clf, head_features, sub, self.random_state) if fit_t else 1.0
            )
        self.heads_ = {head: label_names(HEADS[head]) for head in heads}
        return self

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

        folded = [fold(t) for t in texts]
        sentences = self._focus(folded)
        focus = self._tfidf("focus_vectorizer_", sentences) if self.focus_vectorizer_ else None
        cues = self._cue_counts(sentences) if getattr(self, "cues", 0) else None
        categories = self._category_cue_counts(folded, sentences)
        return self._tfidf("vectorizer_", folded), self._keyword_counts(folded), focus, cues, categories

    def _tfidf(self, name: str, folded: list[str]):
        """``getattr(self, name).transform(folded)``, with the counting done by
        :class:`btr.text.VocabularyCounter` (the same matrix, several times faster)."""
        from sklearn.feature_extraction.text import TfidfTransformer

        from btr.text import VocabularyCounter

        vectorizer = getattr(self, name)
        if name not in self._fast:
            tfidf = TfidfTransformer(
                norm=vectorizer.norm,
                use_idf=vectorizer.use_idf,
                smooth_idf=vectorizer.smooth_idf,
                sublinear_tf=vectorizer.sublinear_tf,
            )
            tfidf.idf_ = vectorizer.idf_
            self._fast[name] = (VocabularyCounter(vectorizer.vocabulary_), tfidf)
        counter, tfidf = self._fast[name]
        return tfidf.transform(counter.transform(folded), copy=False)

    @property
    def _fast(self) -> dict[str, Any]:
        # a cache rebuilt after loading or refitting; never persisted (see __getstate__)
        return self.__dict__.setdefault("_fast_cache", {})

    @staticmethod
    def _focus(folded: list[str]) -> list[str]:
        from btr.lexicon import exit_sentences

        return [exit_sentences(t) for t in folded]

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
        state.pop("_fast_cache", None)
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

    def predict_proba(self, X: Sequence[str]) -> dict[str, np.ndarray]:
        """Per head, an ``(n, n_labels)`` array over the schema's labels; rows sum to 1."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "classifiers_")
        texts = _texts(X)
        if not texts:
            return {head: np.zeros((0, len(names))) for head, names in self.heads_.items()}
        features = self._features(texts)
        return {
            head: self._full(
                head,
                self.classes_[head],
                _tempered(
                    clf.predict_log_proba(self._head_features(features, head)), self.temperatures_[head]
                ),
            )
            for head, clf in self.classifiers_.items()
        }

    def explain(self, text: str, head: str = "category") -> tuple[int, int] | None:
        """The span ``(start, end)`` of the sentence that most supports the predicted label."""
        from btr.text import sentences

        spans = sentences(text)
        if not spans:
            return None
        label = self.predict([text])[0][head]["label"]
        clf = self.classifiers_[head]
        if not hasattr(clf, "coef_"):
            return spans[0]
        classes = list(clf.classes_)
        row = classes.index(label) if len(classes) > 2 else 0
        sign = 1.0 if len(classes) > 2 or label == classes[1] else -1.0
        features = self._head_features(self._features([text[a:b] for a, b in spans]), head)
        scores = sign * (features @ clf.coef_[row])
        return spans[int(np.argmax(scores))]


def _tempered(log_proba: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): the same ranking, sharper (T < 1) or flatter (T > 1) probabilities."""
    z = np.asarray(log_proba, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def _fit_temperature(clf: Any, features: Any, labels: np.ndarray, seed: int) -> float:
    """Temperature scaling: the T that minimises the log loss of 3-fold out-of-fold predictions.

    Balanced class weights and strong regularisation leave logistic regression
    under-confident on small data; one parameter per head fixes the scale without
    changing which label wins.
    """
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    classes = list(clf.classes_)
    log_proba = np.full((len(labels), len(classes)), np.log(1e-6))
    for train, test in KFold(n_splits=3, shuffle=True, random_state=seed).split(labels):
        if len(set(labels[train])) < 2:
            continue
        fold = clone(clf).fit(features[train], labels[train])
        columns = [classes.index(c) for c in fold.classes_]
        log_proba[np.ix_(test, columns)] = fold.predict_log_proba(features[test])
    truth = np.array([classes.index(label) for label in labels])
    grid = np.geomspace(0.05, 5.0, 80)
    losses = [-np.log(_tempered(log_proba, t)[np.arange(len(truth)), truth] + 1e-12).mean() for t in grid]
    return float(grid[int(np.argmin(losses))])


class TransformerModel(_HeadsMixin, BaseEstimator):
    """A Hugging Face encoder with one linear classification head per label field.

    Parameters
    ----------
    base_model : str
        A hub checkpoint name (``bert-base-chinese``, ``xlm-roberta-base``) or a local
        directory holding a config, weights and tokenizer. Both go through
        ``AutoModel.from_pretrained`` and ``AutoTokenizer.from_pretrained``.
    max_length : int
        Tokens per text; longer texts are truncated (news leads carry the facts).
    epochs, batch_size, learning_rate, weight_decay, dropout : training settings.
    heads : tuple of str or None
        Heads to learn; default all of :data:`btr.schema.HEADS`.
    device : str or None
        ``"cuda"`` when available, else ``"cpu"``, unless given.
    random_state : int
        Seed for initialisation and shuffling.
    """

    def __init__(
        self,
        *,
        base_model: str = "bert-base-chinese",
        max_length: int = 256,
        epochs: int = 3,
        batch_size: int = 16,
        learning_rate: float = 5e-5,
        weight_decay: float = 0.01,
        dropout: float = 0.1,
        heads: tuple[str, ...] | None = None,
        device: str | None = None,
        random_state: int = 0,
        quiet: bool | None = None,
    ) -> None:
        self.base_model = base_model
        self.max_length = max_length
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.heads = heads
        self.device = device
        self.random_state = random_state
        self.quiet = quiet

    def _device(self) -> str:
        torch = require("torch", "transformers")
        return self.device or ("cuda" if torch.cuda.is_available() else "cpu")

    def _transformers(self):
        transformers = require("transformers", "transformers")
        if quiet_default(self.quiet):
            transformers.utils.logging.disable_progress_bar()
        return transformers

    def fit(self, X: Sequence[str], y: Any) -> TransformerModel:
        """Fine-tune the encoder and the heads; rows train only the heads that apply to them."""
        torch = require("torch", "transformers")
        transformers = self._transformers()
        from tqdm.auto import tqdm

        from btr.text import normalize

        texts = [normalize(t) for t in _texts(X)]
        heads = tuple(self.heads or HEADS)
        targets = _targets(y, heads)
        torch.manual_seed(self.random_state)
        device = self._device()
        try:
            self.tokenizer_ = transformers.AutoTokenizer.from_pretrained(self.base_model)
            self.encoder_ = transformers.AutoModel.from_pretrained(self.base_model)
        except OSError as err:
            raise ModelError(f"cannot load base model {self.base_model!r}: {err}") from err
        self.classes_ = {}
        index: dict[str, np.ndarray] = {}
        for head in heads:
            labels = targets[head]
            mask = applies(head, labels)
            classes = sorted({str(v) for v in labels[mask]})
            if not classes:
                raise ValueError(f"no row has an applicable {head!r} label")
            self.classes_[head] = classes
            index[head] = np.array(
                [classes.index(v) if m else -100 for v, m in zip(labels, mask, strict=True)]
            )
        hidden = self.encoder_.config.hidden_size
        self.heads_module_ = torch.nn.ModuleDict(
            {head: torch.nn.Linear(hidden, len(self.classes_[head])) for head in heads}
        )
        self.encoder_.to(device)
        self.heads_module_.to(device)
        params = list(self.encoder_.parameters()) + list(self.heads_module_.parameters())
        optimizer = torch.optim.AdamW(params, lr=self.learning_rate, weight_decay=self.weight_decay)
        steps = max(1, self.epochs * -(-len(texts) // self.batch_size))
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1 - step / steps))
        drop = torch.nn.Dropout(self.dropout)
        loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-100)
        generator = torch.Generator().manual_seed(self.random_state)
        self.encoder_.train()
        bar = tqdm(total=steps, desc="fine-tuning", unit="batch", disable=quiet_default(self.quiet))
        for _ in range(self.epochs):
            order = torch.randperm(len(texts), generator=generator).tolist()
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                pooled = drop(self._pool([texts[i] for i in batch], device))
                loss = torch.zeros((), device=device)
                for head in heads:
                    target = torch.as_tensor(index[head][batch], device=device)
                    if (target != -100).any():
                        loss = loss + loss_fn(self.heads_module_[head](pooled), target)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                schedule.step()
                bar.update(1)
        bar.close()
        self.encoder_.eval()
        self.heads_ = {head: label_names(HEADS[head]) for head in heads}
        return self

    def _pool(self, texts: list[str], device: str):
        """Mean of the last hidden states over real tokens."""
        enc = self.tokenizer_(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(device)
        hidden = self.encoder_(
            input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]
        ).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def predict_proba(self, X: Sequence[str], *, batch_size: int | None = None) -> dict[str, np.ndarray]:
        """Per head, ``(n, n_labels)`` probabilities; batches sorted by length, no gradients."""
        from sklearn.utils.validation import check_is_fitted

        torch = require("torch", "transformers")
        from btr.text import normalize

        check_is_fitted(self, "heads_module_")
        texts = [normalize(t) for t in _texts(X)]
        device = next(self.encoder_.parameters()).device
        size = batch_size or max(self.batch_size, 32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = {head: np.zeros((len(texts), len(classes))) for head, classes in self.classes_.items()}
        self.encoder_.eval()
        with torch.inference_mode():
            for start in range(0, len(order), size):
                batch = order[start : start + size]
                pooled = self._pool([texts[i] for i in batch], str(device))
                for head, layer in self.heads_module_.items():
                    out[head][batch] = torch.softmax(layer(pooled).float(), dim=-1).cpu().numpy()
        return {head: self._full(head, self.classes_[head], p) for head, p in out.items()}

    def save(self, path: Path) -> None:
        """Write ``encoder/`` (safetensors weights and tokenizer) and ``heads.safetensors``."""
        from safetensors.torch import save_file

        self.encoder_.save_pretrained(path / _ENCODER_DIR)
        self.tokenizer_.save_pretrained(path / _ENCODER_DIR)
        state = {
            f"{head}.{name}": tensor.detach().cpu().contiguous()
            for head, layer in self.heads_module_.items()
            for name, tensor in layer.state_dict().items()
        }
        save_file(state, str(path / _HEADS_FILE))

    @classmethod
    def load(cls, path: Path, *, params: dict[str, Any], classes: dict[str, list[str]]) -> TransformerModel:
        """Rebuild a fitted model from a directory written by :meth:`save`."""
        torch = require("torch", "transformers")
        from safetensors.torch import load_file

        model = cls(**params)
        transformers = model._transformers()
        model.tokenizer_ = transformers.AutoTokenizer.from_pretrained(path / _ENCODER_DIR)
        # safetensors only: a pytorch_model.bin in the directory is a pickle and never loaded
        model.encoder_ = transformers.AutoModel.from_pretrained(path / _ENCODER_DIR, use_safetensors=True)
        model.encoder_.to(model._device()).eval()
        state = load_file(str(path / _HEADS_FILE))
        hidden = model.encoder_.config.hidden_size
        model.heads_module_ = torch.nn.ModuleDict()
        for head, names in classes.items():
            layer = torch.nn.Linear(hidden, len(names))
            layer.load_state_dict({"weight": state[f"{head}.weight"], "bias": state[f"{head}.bias"]})
            model.heads_module_[head] = layer
        model.heads_module_.to(model._device())
        model.classes_ = {head: list(names) for head, names in classes.items()}
        model.heads_ = {head: label_names(HEADS[head]) for head in classes}
        return model


def joint_category_exit(proba: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Make ``category`` and ``exit_status`` agree, as a product of the two heads.

    The schema allows each category a set of exit statuses
    (:data:`btr.schema.CATEGORY_EXIT_STATUSES`: a ``btr`` is an exit that occurred, a
    ``no_resignation`` one demanded, refused, rumoured or conditional). Each head's
    probabilities are multiplied by the other head's mass on the labels compatible with
    them and renormalised, so that a text the exit-status head reads as a demand is not
    tagged as a resignation that happened, and the other way round.

    Examples
    --------
    >>> c = np.array([[0.5, 0, 0, 0.4, 0.1, 0]])     # btr 0.5, no_resignation 0.4
    >>> s = np.array([[0.2, 0.8, 0, 0, 0, 0]])       # occurred 0.2, demanded 0.8
    >>> out = joint_category_exit({"category": c, "exit_status": s})
    >>> int(out["category"].argmax())                 # no_resignation
    3
    """
    if "category" not in proba or "exit_status" not in proba:
        return proba
    categories, statuses = list(Category), list(ExitStatus)
    allowed = np.zeros((len(categories), len(statuses)))
    for c, compatible in CATEGORY_EXIT_STATUSES.items():
        for s in compatible:
            allowed[categories.index(c), statuses.index(s)] = 1.0
    cat, status = proba["category"], proba["exit_status"]
    joint_cat = cat * (status @ allowed.T)
    joint_status = status * (cat @ allowed)
    out = dict(proba)
    for head, joint, original in (("category", joint_cat, cat), ("exit_status", joint_status, status)):
        total = joint.sum(axis=1, keepdims=True)
        out[head] = np.where(total > 0, joint / np.where(total > 0, total, 1.0), original)
    return out


def settle_fixed_labels(proba: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mix into each conditional head the labels the category settles for it.

    ``trigger`` and ``responsibility`` are learned only from texts with a blamed event
    (:data:`NOT_APPLICABLE`); a category such as ``other_resignation`` fixes them
    (:data:`btr.schema.CATEGORY_FIXED_LABELS`). The probability of a label is then
    ``P(category fixes it) + (1 - P(some category fixes the head)) * P(label | blamed event)``,
    so that a resignation for health reasons reads ``trigger: none``.

    Examples
    --------
    >>> c = np.array([[0.2, 0.8, 0, 0, 0, 0]])      # btr 0.2, other_resignation 0.8
    >>> t = np.zeros((1, len(HEADS["trigger"]))); t[0, 0] = 1.0  # safety_accident, if blamed
    >>> out = settle_fixed_labels({"category": c, "trigger": t})
    >>> label_names(HEADS["trigger"])[int(out["trigger"].argmax())]
    'none'
    """
    if "category" not in proba:
        return proba
    categories = list(Category)
    out = dict(proba)
    for head, p in proba.items():
        fixers = [(c, fixed[head]) for c, fixed in CATEGORY_FIXED_LABELS.items() if head in fixed]
        if head == "category" or not fixers:
            continue
        names = label_names(HEADS[head])
        settled = np.zeros_like(p)
        for category, label in fixers:
            settled[:, names.index(label)] += proba["category"][:, categories.index(category)]
        out[head] = settled + (1.0 - settled.sum(axis=1, keepdims=True)) * p
    return out


def open_world_proba(estimator: Any, texts: Sequence[str], *, gate: bool = True) -> dict[str, np.ndarray]:
    """Per head, ``(n, n_labels)`` probabilities for news of any kind: the lexicon gate first, then
    the estimator on the texts that mention an exit, with :func:`joint_category_exit`.

    A text with no exit term of any language (:func:`btr.lexicon.mentions_exit`) gets the
    :data:`btr.schema.UNRELATED_LABELS` with probability 1 without running the estimator:
    in an ordinary archive that is most articles, and the cheap path.
    """
    from btr.lexicon import mentions_exit

    texts = list(texts)
    heads = estimator.heads_
    out = {head: np.zeros((len(texts), len(names))) for head, names in heads.items()}
    passed = mentions_exit(texts) if gate else np.ones(len(texts), dtype=bool)
    for head, names in heads.items():
        out[head][~passed, names.index(UNRELATED_LABELS[head])] = 1.0
    at = np.flatnonzero(passed)
    if len(at):
        proba = settle_fixed_labels(joint_category_exit(estimator.predict_proba([texts[i] for i in at])))
        for head in heads:
            out[head][at] = proba[head]
    return out


def make_estimator(kind: str, **params: Any) -> LinearModel | TransformerModel:
    """An unfitted estimator of ``kind`` (``linear`` or ``transformer``) with ``params``."""
    if kind == "linear":
        return LinearModel(**params)
    if kind == "transformer":
        return TransformerModel(**params)
    raise InputError(f"unknown model kind {kind!r}; use one of {', '.join(KINDS)}")


# ------------------------------------------------------------------ metadata and card


class _Meta(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CorpusInfo(_Meta):
    """The training data, as recorded in ``meta.json``."""

    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    cases: int = Field(ge=1)
    rows: int = Field(ge=1)
    events: int = Field(ge=1)
    languages: list[str]
    case_ids: list[str]
    unrelated: str | None = Field(default=None, description="The unrelated texts trained on, if any")
    unrelated_sha256: str | None = None
    unrelated_texts: int = 0
    exits: str | None = Field(default=None, description="The exit texts trained on, if any")
    exits_sha256: str | None = None
    exit_texts: int = 0


class ModelMeta(_Meta):
    """``meta.json`` of a saved model, checked against the schema's label sets."""

    name: str = Field(min_length=1)
    kind: Literal["linear", "transformer"]
    version: str = Field(min_length=1)
    created: str
    btr_version: str
    base_model: str | None = None
    labels: dict[str, list[str]]
    not_applicable: dict[str, list[str]]
    classes: dict[str, list[str]]
    corpus: CorpusInfo
    seed: int
    params: dict[str, Any]
    metrics: dict[str, Any] = Field(default_factory=dict)
    gate: bool = Field(default=True, description="Texts with no exit term are unrelated (btr.lexicon)")
    packages: dict[str, str]
    training_seconds: float = Field(ge=0)
    size_bytes: int = Field(ge=0)

    @model_validator(mode="after")
    def _labels_match_schema(self) -> ModelMeta:
        for head, names in self.labels.items():
            if head not in HEADS:
                raise ValueError(f"labels: {head!r} is not a head of the schema ({', '.join(HEADS)})")
            if names != label_names(HEADS[head]):
                raise ValueError(f"labels.{head} differ from the schema: retrain the model")
            extra = set(self.classes.get(head, [])) - set(names)
            if extra:
                raise ValueError(f"classes.{head} has labels outside the schema: {sorted(extra)}")
        if set(self.classes) != set(self.labels):
            raise ValueError("classes and labels name different heads")
        return self


def _package_versions(kind: str) -> dict[str, str]:
    names = ["btr", "scikit-learn", "numpy", "scipy", "skops", "opencc-python-reimplemented"]
    if kind == "transformer":
        names += ["torch", "transformers", "tokenizers", "safetensors"]
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _dir_size(path: Path) -> int:
    return sum(
        p.stat().st_size for p in path.rglob("*") if p.is_file() and p.name not in ("meta.json", "README.md")
    )


#: Macro-F1 floors in 5-fold cross-validation grouped by event, stated in the model card.
_FLOORS = {"category": 0.85, "trigger": 0.75}

_INTENDED = (
    "Finding and labelling reports of officials who resign taking blame (引咎辞职, 引責辞任, 사퇴, "
    "Rücktritt...) in ordinary news archives in Chinese, English, Japanese, Korean and European "
    "languages, as a first pass before human review: `btr tag` over article archives and "
    "pre-annotations in Label Studio. Articles with no exit term of any language are `unrelated` "
    "without running the model (the lexicon gate)."
)

#: Floors on the held-out news set (``btr evaluate --news``), stated in the model card.
_NEWS_FLOORS = {
    "is_btr_f1": 0.90,
    "per_language_f1": 0.85,
    "fp_rate_unrelated": 0.005,
    "trigger_macro_f1": 0.70,
}


def _news_card(news: dict[str, Any]) -> list[str]:
    o = news["overall"]
    lines = [
        "## On held-out news",
        "",
        f"`{news.get('command', 'btr evaluate --news')}` (news sha256 `{str(news.get('news_sha256', ''))[:16]}…`): "
        "real reports of events that are not events of the training corpus, unrelated news included; "
        "never trained on.",
        "",
        f"is_btr precision {o['precision']:.3f}, recall {o['recall']:.3f}, F1 {o['f1']:.3f} "
        f"(floor {_NEWS_FLOORS['is_btr_f1']}: {'met' if o['f1'] >= _NEWS_FLOORS['is_btr_f1'] else 'NOT met'}); "
        f"false-positive rate on unrelated articles {news['fp_rate_unrelated']:.4f} "
        f"(floor {_NEWS_FLOORS['fp_rate_unrelated']}: "
        f"{'met' if news['fp_rate_unrelated'] <= _NEWS_FLOORS['fp_rate_unrelated'] else 'NOT met'}); "
        f"expected precision at 1 relevant article in 1,000: {news['precision_at_base_rate']:.3f}; "
        f"trigger macro-F1 {news['trigger']['macro_f1']:.3f} (floor {_NEWS_FLOORS['trigger_macro_f1']}: "
        f"{'met' if news['trigger']['macro_f1'] >= _NEWS_FLOORS['trigger_macro_f1'] else 'NOT met'}).",
        "",
        "| language | relevant articles | is_btr F1 | floor 0.85 (20+ relevant) |",
        "|---|---:|---:|---|",
    ]
    relevant = news.get("per_language_relevant", {})
    for lang, f1 in news.get("per_language_f1", {}).items():
        n = relevant.get(lang, 0)
        verdict = ("met" if f1 >= _NEWS_FLOORS["per_language_f1"] else "NOT met") if n >= 20 else "-"
        lines.append(f"| {lang} | {n} | {f1:.3f} | {verdict} |")
    gate = news.get("gate", {})
    lines += [
        "",
        f"Lexicon gate: recall {gate.get('recall_news', float('nan')):.4f} on relevant news and "
        f"{gate.get('recall_corpus', float('nan')):.4f} on the corpus texts; it lets "
        f"{gate.get('pass_rate_unrelated', float('nan')):.3f} of unrelated news through to the model.",
        "",
        "Errors by kind (what happened to the exit; is_btr wrong / articles): "
        + "; ".join(f"{k} {v['is_btr_errors']}/{v['n']}" for k, v in news.get("kinds", {}).items()),
        "",
    ]
    return lines


def render_card(meta: ModelMeta | dict[str, Any]) -> str:
    """The model card (``README.md``) of a model, generated from its validated metadata."""
    meta = meta if isinstance(meta, ModelMeta) else ModelMeta.model_validate(meta)
    c = meta.corpus
    lines = [
        f"# {meta.name}",
        "",
        f"A btr `{meta.kind}` classifier, version `{meta.version}`, created {meta.created}."
        + (f" Fine-tuned from `{meta.base_model}`." if meta.base_model else ""),
        "Generated from `meta.json` by `btr.models.render_card`; do not edit by hand.",
        "",
        "## Intended use",
        "",
        _INTENDED,
        "Every prediction carries a probability; low scores deserve a human look.",
        "Not for judging individuals: a label says what a text reports, not what happened.",
        "",
        "## Heads",
        "",
        "| head | labels learned | rows left out (the head does not apply) |",
        "|---|---|---|",
    ]
    for head, names in meta.labels.items():
        unseen = [n for n in names if n not in meta.classes[head] and n not in meta.not_applicable[head]]
        shown = ", ".join(f"`{n}`" for n in meta.classes[head])
        if unseen:
            shown += " (never seen in training: " + ", ".join(f"`{n}`" for n in unseen) + ")"
        excluded = ", ".join(f"`{n}`" for n in meta.not_applicable[head]) or "(all rows)"
        lines.append(f"| {head} | {shown} | {excluded} |")
    lines += [
        "",
        'Heads other than `category` are conditional: they answer "if this is a blamed exit, which '
        'trigger / basis / initiator?" and should be read with `category`.',
        "",
        "## Training data",
        "",
        f"`{c.path}` (sha256 `{c.sha256[:16]}…`): {c.cases} cases in {c.events} events, "
        f"{c.rows} text rows in {', '.join(c.languages)} (one per case and language). Seed {meta.seed}.",
        "The texts are the project's own summaries of public reports (zh, en and the language of the "
        "case's country)"
        + (f", {c.unrelated_texts} unrelated news-style texts (`{c.unrelated}`)" if c.unrelated_texts else "")
        + (f" and {c.exit_texts} exit texts that name no one (`{c.exits}`)" if c.exit_texts else "")
        + ".",
        "",
        "## Metrics",
        "",
    ]
    if not meta.metrics:
        lines += ["Not evaluated yet: run `btr evaluate --model <dir> --cv 5`.", ""]
    for protocol, result in meta.metrics.items():
        if protocol == "news":
            continue
        lines += [
            f"**{result.get('protocol', protocol)}** (`{result.get('command', '')}`), "
            f"data sha256 `{str(result.get('data_sha256', ''))[:16]}…`:",
            "",
            "| head | rows | model macro-F1 | model accuracy | ECE | keyword rules macro-F1 | majority macro-F1 |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for head, h in result.get("heads", {}).items():
            lines.append(
                f"| {head} | {h['n']} | {h['model']['macro_f1']:.3f} | {h['model']['accuracy']:.3f} | "
                f"{h['model'].get('ece', float('nan')):.3f} | {h['keyword']['macro_f1']:.3f} | "
                f"{h['majority']['macro_f1']:.3f} |"
            )
        lines.append("")
        if protocol == "cv5":
            cv = result.get("heads", {})
            met = {
                head: cv[head]["model"]["macro_f1"] >= floor for head, floor in _FLOORS.items() if head in cv
            }
            lines += [
                "Floors (5-fold CV grouped by event, macro-F1): "
                + "; ".join(f"`{h}` >= {_FLOORS[h]}: {'met' if ok else 'NOT met'}" for h, ok in met.items()),
                "",
            ]
    if "news" in meta.metrics:
        lines += _news_card(meta.metrics["news"])
    lines += [
        "## Languages",
        "",
        "Texts in " + ", ".join(c.languages) + " (Chinese Simplified and Traditional folded to Simplified "
        "for the features); the lexicon gate covers zh-Hans, zh-Hant, en, ja, ko, de, fr, es, pt, it, ru and nl.",
        "",
        "## Limits",
        "",
        f"- Trained on {c.cases} curated cases: rare labels have few examples and low recall.",
        "- Training texts are short summaries; real news is longer and noisier, and scores on it are "
        "lower than the cross-validated figures above.",
        "- A text about several officials gets one label per head.",
    ]
    if meta.kind == "transformer":
        lines.append(f"- Only the first {meta.params.get('max_length')} tokens of a text are read.")
    else:
        lines.append("- Bag of n-grams: negation and who-did-what are only partly captured.")
    lines += [
        "",
        "## Size and training",
        "",
        f"{meta.size_bytes / 1e6:.1f} MB on disk; trained in {meta.training_seconds:.1f} s.",
        "",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in meta.packages.items()),
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ the one predict interface


class Model:
    """A loaded model: the predict interface every part of btr codes against.

    Attributes
    ----------
    heads : dict
        ``{head: [label names]}`` from the schema.
    meta : dict
        The validated ``meta.json``.
    name, version : str
        For Label Studio's ``model_version`` and the tagger's records.
    """

    def __init__(self, estimator: LinearModel | TransformerModel, meta: ModelMeta, path: Path) -> None:
        self.estimator = estimator
        self._meta = meta
        self.path = path

    @property
    def heads(self) -> dict[str, list[str]]:
        return dict(self._meta.labels)

    @property
    def meta(self) -> dict[str, Any]:
        return self._meta.model_dump(mode="json")

    @property
    def name(self) -> str:
        return self._meta.name

    @property
    def version(self) -> str:
        return self._meta.version

    @property
    def kind(self) -> str:
        return self._meta.kind

    @property
    def gate(self) -> bool:
        """Whether texts with no exit term are ``unrelated`` without running the estimator."""
        return self._meta.gate

    def predict_proba(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Per head, an ``(n, n_labels)`` array in :attr:`heads` order; rows sum to 1
        (:func:`open_world_proba`: the lexicon gate, the estimator, category and exit status joined)."""
        return open_world_proba(self.estimator, list(texts), gate=self.gate)

    def predict(self, texts: Sequence[str]) -> list[dict[str, dict[str, Any]]]:
        """Per text, ``{head: {"label": name, "score": probability}}``."""
        proba = self.predict_proba(texts)
        heads = self.heads
        result: list[dict[str, dict[str, Any]]] = [{} for _ in range(len(texts))]
        for head, p in proba.items():
            for i, j in enumerate(p.argmax(axis=1)):
                result[i][head] = {"label": heads[head][j], "score": float(p[i, j])}
        return result

    def explain(self, text: str) -> str | None:
        """The sentence of ``text`` that most supports the predicted category (linear models);
        for a transformer, the sentence whose own prediction agrees with the text's most strongly."""
        if isinstance(self.estimator, LinearModel):
            span = self.estimator.explain(text)
            return text[span[0] : span[1]] if span else None
        from btr.text import sentences

        spans = sentences(text)
        if not spans:
            return None
        label = self.predict([text])[0]["category"]["label"]
        j = self.heads["category"].index(label)
        proba = self.predict_proba([text[a:b] for a, b in spans])["category"][:, j]
        a, b = spans[int(np.argmax(proba))]
        return text[a:b]

    def update_metrics(self, key: str, result: dict[str, Any]) -> None:
        """Record an evaluation in ``meta.json`` and regenerate the model card."""
        meta = self._meta.model_copy(update={"metrics": {**self._meta.metrics, key: result}})
        self._meta = ModelMeta.model_validate(meta.model_dump(mode="json"))
        _write_meta(self.path, self._meta)

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, kind={self.kind!r}, version={self.version!r})"


def _write_meta(path: Path, meta: ModelMeta) -> None:
    (path / "meta.json").write_text(
        json.dumps(meta.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (path / "README.md").write_text(render_card(meta), encoding="utf-8")


def save_model(
    estimator: LinearModel | TransformerModel,
    out: str | Path,
    *,
    name: str | None = None,
    corpus: CorpusInfo,
    seed: int,
    training_seconds: float = 0.0,
) -> Model:
    """Write a fitted estimator, its ``meta.json`` and its model card to ``out``."""
    sio = _import_skops_io()

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kind = "linear" if isinstance(estimator, LinearModel) else "transformer"
    for stale in (_SKOPS_FILE, _HEADS_FILE):
        (out / stale).unlink(missing_ok=True)
    if kind == "linear":
        sio.dump(estimator, out / _SKOPS_FILE, compression=zipfile.ZIP_DEFLATED)
    else:
        estimator.save(out)
    params = {k: v for k, v in estimator.get_params().items() if k not in ("heads", "quiet", "device")}
    now = dt.datetime.now(dt.UTC)
    meta = ModelMeta(
        name=name or out.name,
        kind=kind,
        version=f"{out.name}-{now:%Y%m%d%H%M%S}-{corpus.sha256[:8]}",
        created=now.isoformat(timespec="seconds"),
        btr_version=_package_versions(kind)["btr"],
        base_model=getattr(estimator, "base_model", None),
        labels=dict(estimator.heads_),
        not_applicable={head: sorted(NOT_APPLICABLE[head]) for head in estimator.heads_},
        classes=dict(estimator.classes_),
        corpus=corpus,
        seed=seed,
        params=params,
        packages=_package_versions(kind),
        training_seconds=round(training_seconds, 2),
        size_bytes=_dir_size(out),
    )
    _write_meta(out, meta)
    return Model(estimator, meta, out)


def load_model(path: str | Path, *, quiet: bool | None = None) -> Model:
    """Load a model directory written by :func:`train`; :class:`ModelError` if it is missing,
    incomplete, invalid or holds untrusted types.

    Examples
    --------
    >>> model = load_model("models/default")  # doctest: +SKIP
    >>> sorted(model.heads)                   # doctest: +SKIP
    ['category', 'initiation', 'responsibility', 'trigger']
    """
    path = Path(path)
    meta_file = path / "meta.json"
    if not meta_file.is_file():
        raise ModelError(f"{path}: no model here (no meta.json); train one with `btr train --out {path}`")
    try:
        meta = ModelMeta.model_validate_json(meta_file.read_text(encoding="utf-8"))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<record>"
        raise ModelError(f"{meta_file}: {where}: {first['msg']} ({err.error_count()} problem(s))") from err
    _refuse_links_out(path)
    if meta.kind == "linear":
        estimator = _load_skops(path / _SKOPS_FILE)
    else:
        if not (path / _ENCODER_DIR / "model.safetensors").is_file():
            raise ModelError(
                f"{path}: {_ENCODER_DIR}/model.safetensors is missing; btr loads encoder weights "
                "only from safetensors, never from pickled .bin files"
            )
        for needed in (path / _HEADS_FILE, path / _ENCODER_DIR / "config.json"):
            if not needed.exists():
                raise ModelError(f"{path}: incomplete transformer model, {needed.name} is missing")
        params = {k: v for k, v in meta.params.items() if k in TransformerModel().get_params()}
        params["quiet"] = quiet
        estimator = TransformerModel.load(path, params=params, classes=meta.classes)
    if dict(estimator.classes_) != meta.classes:
        raise ModelError(f"{path}: the model's classes differ from meta.json; retrain it")
    return Model(estimator, meta, path)


def _refuse_links_out(path: Path) -> None:
    """Refuse a model directory whose files resolve outside it (a link to a file elsewhere)."""
    root = path.resolve()
    for file in path.rglob("*"):
        if not file.resolve().is_relative_to(root):
            raise ModelError(f"{path}: {file.relative_to(path)} points outside the model directory; refused")


def _import_skops_io():
    """``import skops.io``, without importing torch on the way.

    Importing skops.io lists scikit-learn's estimators (``all_estimators``), which walks
    every package of sklearn, and importing ``sklearn.externals.array_api_compat.torch``
    imports torch when it is installed: a second of start-up for every ``btr tag`` run and
    every Dask worker, for a package that holds no estimator. A placeholder module without
    a ``__path__`` stands in for it during the walk, then is removed again.
    """
    import sys
    import types

    if "skops.io" in sys.modules or "torch" in sys.modules:
        import skops.io

        return skops.io
    name = "sklearn.externals.array_api_compat.torch"
    placeholder = types.ModuleType(name)
    sys.modules.setdefault(name, placeholder)
    try:
        import skops.io
    finally:
        if sys.modules.get(name) is placeholder:
            del sys.modules[name]
    return skops.io


def _load_skops(file: Path) -> LinearModel:
    sio = _import_skops_io()

    if not file.is_file():
        raise ModelError(f"{file.parent}: incomplete model, {file.name} is missing")
    try:
        untrusted = sio.get_untrusted_types(file=file)
    except Exception as err:  # skops raises several types on a corrupt archive
        raise ModelError(f"{file}: not a readable skops file: {err}") from err
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise ModelError(f"{file}: refusing to load untrusted types: {', '.join(refused)}")
    estimator = sio.load(file, trusted=[t for t in untrusted if t in TRUSTED_TYPES])
    if not isinstance(estimator, LinearModel):
        raise ModelError(f"{file}: holds a {type(estimator).__name__}, not a LinearModel")
    return estimator


# ------------------------------------------------------------------ training


#: The repository root: paths inside it are recorded relative to it, so that a checked-in
#: ``meta.json`` names ``corpus/cases.jsonl`` rather than one machine's absolute path.
ROOT = Path(__file__).resolve().parents[1]


def portable_path(path: str | Path) -> str:
    """``path`` relative to the repository root when it lies inside it, else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def resolve_path(recorded: str) -> Path:
    """The inverse of :func:`portable_path`."""
    path = Path(recorded)
    return path if path.is_absolute() else ROOT / path


def corpus_info(
    cases: Sequence[Any],
    path: str | Path,
    *,
    unrelated: Sequence[Any] = (),
    unrelated_path: str | Path | None = None,
) -> CorpusInfo:
    """Describe the data a model is trained on (hashes of the files it came from)."""
    from btr.corpus import DEFAULT_EXITS, case_rows, corpus_hash
    from btr.schema import ExitText

    rows = [row for case in cases for row in case_rows(case)]
    exits = [item for item in unrelated if isinstance(item, ExitText)]
    unrelated = [item for item in unrelated if not isinstance(item, ExitText)]
    return CorpusInfo(
        path=portable_path(path),
        sha256=corpus_hash(path),
        cases=len(cases),
        rows=len(rows) + len(unrelated) + len(exits),
        events=len({c.event_id for c in cases}),
        languages=sorted({row["language"] for row in rows}),
        case_ids=sorted(c.id for c in cases),
        unrelated=portable_path(unrelated_path) if unrelated else None,
        unrelated_sha256=corpus_hash(unrelated_path) if unrelated else None,
        unrelated_texts=len(unrelated),
        exits=portable_path(DEFAULT_EXITS) if exits else None,
        exits_sha256=corpus_hash(DEFAULT_EXITS) if exits else None,
        exit_texts=len(exits),
    )


def training_rows(cases: Sequence[Any], unrelated: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The text rows a model learns from: every language of every case, then the unrelated and exit texts."""
    from btr.corpus import case_rows, unrelated_rows

    return [row for case in cases for row in case_rows(case)] + [
        row for item in unrelated for row in unrelated_rows(item)
    ]


def train(
    *,
    kind: str = "linear",
    out: str | Path,
    base_model: str | None = None,
    seed: int = 0,
    cases: str | Path | None = None,
    unrelated: str | Path | None = None,
    name: str | None = None,
    params: dict[str, Any] | None = None,
    quiet: bool | None = None,
) -> Model:
    """Train a model of ``kind`` on every case of a corpus and save it to ``out``.

    Parameters
    ----------
    kind : {"linear", "transformer"}
    out : path
        The model directory (``models/NAME``).
    base_model : str, optional
        For ``transformer``: a hub checkpoint name or a local path.
    seed : int
    cases : path, optional
        The corpus file; default ``corpus/cases.jsonl``.
    unrelated : path, optional
        News-style texts that report no exit, learned as ``unrelated``. With the default
        corpus, ``corpus/unrelated.jsonl`` and ``corpus/exits.jsonl`` are used when they exist.
    params : dict, optional
        Further estimator parameters.

    Returns
    -------
    Model
        The saved model, loaded back through :func:`load_model`.

    Examples
    --------
    >>> model = train(kind="linear", out="models/default")  # doctest: +SKIP
    """
    from btr.corpus import DEFAULT_CORPUS, DEFAULT_UNRELATED, load_cases, load_exits, load_unrelated

    path = Path(cases or DEFAULT_CORPUS)
    loaded = load_cases(path)
    unrelated_path = Path(unrelated or DEFAULT_UNRELATED)
    if unrelated is not None and not unrelated_path.exists():
        raise InputError(f"{unrelated_path}: no such file")
    # the default unrelated and exit texts go with the default corpus; a named corpus brings its own
    if unrelated is not None:
        extra = load_unrelated(unrelated_path)
    else:
        default = cases is None or path.resolve() == DEFAULT_CORPUS.resolve()
        extra = [*load_unrelated(unrelated_path), *load_exits()] if default else []
    if len(loaded) < 2:
        raise InputError(f"{path}: {len(loaded)} case(s); training needs at least 2")
    options = dict(params or {}, random_state=seed)
    if kind == "transformer":
        options["base_model"] = base_model or options.get("base_model", "bert-base-chinese")
        options["quiet"] = quiet_default(quiet)
    elif base_model:
        raise InputError("--base-model applies only to --model transformer")
    estimator = make_estimator(kind, **options)
    texts, y = rows_to_xy(training_rows(loaded, extra))
    started = time.perf_counter()
    estimator.fit(texts, y)
    seconds = time.perf_counter() - started
    info = corpus_info(loaded, path, unrelated=extra, unrelated_path=unrelated_path)
    save_model(estimator, out, name=name, corpus=info, seed=seed, training_seconds=seconds)
    return load_model(out, quiet=quiet)


def make_tiny_base_model(
    out: str | Path, texts: Sequence[str], *, vocab_size: int = 3000, seed: int = 0
) -> Path:
    """A randomly initialised 2-layer BERT and a WordPiece tokenizer trained on ``texts``, saved to ``out``.

    For tests, benchmarks and offline demos: nothing is downloaded, and ``out``
    loads through the same ``from_pretrained`` path as a hub checkpoint.
    """
    torch = require("torch", "transformers")
    transformers = require("transformers", "transformers")
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    from btr.text import normalize

    out = Path(out)
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(handle_chinese_chars=True, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        [normalize(t) for t in texts],
        trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[(t, tok.token_to_id(t)) for t in ("[CLS]", "[SEP]")],
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=512,
    )  # fmt: skip
    fast.save_pretrained(out)
    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=512,
    )  # fmt: skip
    transformers.BertModel(config).save_pretrained(out)
    return out
