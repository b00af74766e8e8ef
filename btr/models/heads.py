"""What every estimator shares: the heads, their targets, calibration and the open-world decoding.

Heads other than ``category`` learn only from rows where their label applies
(:data:`NOT_APPLICABLE`); :func:`joint_category_exit` and :func:`settle_fixed_labels` make
the heads agree with the schema, and :func:`open_world_proba` puts the lexicon gate first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils import Tags

from btr.schema import (
    CATEGORY_EXIT_STATUSES,
    CATEGORY_FIXED_LABELS,
    HEADS,
    UNRELATED_LABELS,
    Category,
    ExitStatus,
    label_names,
)

#: train nor score the head. ``category`` applies to every row.
NOT_APPLICABLE: dict[str, frozenset[str]] = {
    "category": frozenset(),
    "trigger": frozenset({"none"}),
    "responsibility": frozenset({"none", "unclear"}),
    "initiation": frozenset({"not_applicable", "unknown"}),
    "exit_status": frozenset(),
}


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


class _HeadsMixin(ClassifierMixin):
    """The scikit-learn contract of a multi-output text classifier, shared by both estimators.

    ``X`` is a sequence of texts; ``y`` has one column per head. :meth:`predict` returns an
    ``(n, n_heads)`` array of label names and :meth:`predict_proba` one ``(n, n_labels)``
    array per head (as :class:`sklearn.multioutput.MultiOutputClassifier`), each over the
    schema's labels of that head; :meth:`head_proba` gives the same arrays keyed by head.
    """

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = True
        tags.target_tags.single_output = False
        tags.target_tags.multi_output = True
        return tags

    def _full(self, head: str, classes: Sequence[str], proba: np.ndarray) -> np.ndarray:
        names = label_names(HEADS[head])
        out = np.zeros((proba.shape[0], len(names)), dtype=np.float64)
        for j, label in enumerate(classes):
            out[:, names.index(label)] = proba[:, j]
        return out

    def head_proba(self, X: Sequence[str]) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict_proba(self, X: Sequence[str]) -> list[np.ndarray]:
        """One ``(n, n_labels)`` array per head, in the order of ``heads_``; rows sum to 1."""
        return list(self.head_proba(X).values())

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """The most probable label name of each head: an ``(n, n_heads)`` object array."""
        proba = self.head_proba(X)
        n = len(next(iter(proba.values()))) if proba else 0
        out = np.empty((n, len(proba)), dtype=object)
        for k, (head, p) in enumerate(proba.items()):
            out[:, k] = np.asarray(label_names(HEADS[head]), dtype=object)[p.argmax(axis=1)]
        return out

    def score(self, X: Sequence[str], y: Any, sample_weight: Any = None) -> float:
        """Mean over heads of the accuracy on the rows where each head applies."""
        heads = list(self.heads_)
        targets = _targets(y, heads)
        predicted = self.predict(X)
        scores = []
        for k, head in enumerate(heads):
            mask = applies(head, targets[head])
            if mask.any():
                weight = None if sample_weight is None else np.asarray(sample_weight)[mask]
                scores.append(np.average(predicted[mask, k] == targets[head][mask], weights=weight))
        return float(np.mean(scores)) if scores else float("nan")


def _tempered(log_proba: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): the same ranking, sharper (T < 1) or flatter (T > 1) probabilities."""
    z = np.asarray(log_proba, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


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
        proba = settle_fixed_labels(joint_category_exit(estimator.head_proba([texts[i] for i in at])))
        for head in heads:
            out[head][at] = proba[head]
    return out
