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

from btr.models.artifact import TRUSTED_TYPES, Model, load_model, save_model
from btr.models.card import CorpusInfo, ModelMeta, render_card
from btr.models.heads import (
    NOT_APPLICABLE,
    applies,
    joint_category_exit,
    open_world_proba,
    rows_to_xy,
    settle_fixed_labels,
)
from btr.models.linear import LinearModel
from btr.models.params import PARAMS, hyperparameters, parse_overrides
from btr.models.training import (
    KINDS,
    ROOT,
    corpus_info,
    extra_texts,
    make_estimator,
    portable_path,
    resolve_path,
    train,
    training_rows,
)
from btr.models.transformer import TransformerModel, make_tiny_base_model
from btr.settings import quiet_default

__all__ = [
    "KINDS",
    "NOT_APPLICABLE",
    "PARAMS",
    "ROOT",
    "TRUSTED_TYPES",
    "CorpusInfo",
    "LinearModel",
    "Model",
    "ModelMeta",
    "TransformerModel",
    "applies",
    "corpus_info",
    "extra_texts",
    "hyperparameters",
    "joint_category_exit",
    "load_model",
    "make_estimator",
    "make_tiny_base_model",
    "open_world_proba",
    "parse_overrides",
    "portable_path",
    "quiet_default",
    "render_card",
    "resolve_path",
    "rows_to_xy",
    "save_model",
    "settle_fixed_labels",
    "train",
    "training_rows",
]
