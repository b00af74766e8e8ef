"""The ``models/NAME/`` directory: saving, loading with trusted types only, and the one predict interface (:class:`Model`)."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from btr.errors import ModelError
from btr.files import validation_messages, write_text_atomic
from btr.models.card import CorpusInfo, ModelMeta, _dir_size, _package_versions, render_card
from btr.models.heads import NOT_APPLICABLE, open_world_proba
from btr.models.linear import LinearModel
from btr.models.transformer import ENCODER_DIR, HEADS_FILE, TransformerModel

SKOPS_FILE = "model.skops"


#: Types a linear ``model.skops`` may hold beyond skops' own defaults (scikit-learn estimators,
#: numpy arrays, builtins). Loading refuses a file holding anything else.
# "btr.models.LinearModel" is how models saved before btr.models became a package name the class
# The calibration wrapper's private parts and its fold splitter are scikit-learn's own classes,
# which skops does not list among its defaults.
TRUSTED_TYPES = [
    "btr.models.linear.LinearModel",
    "btr.models.LinearModel",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._TemperatureScaling",
    "sklearn.model_selection._split.StratifiedKFold",
]


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
    write_text_atomic(
        path / "meta.json", json.dumps(meta.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"
    )
    write_text_atomic(path / "README.md", render_card(meta))


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
    for stale in (SKOPS_FILE, HEADS_FILE):
        (out / stale).unlink(missing_ok=True)
    if kind == "linear":
        sio.dump(estimator, out / SKOPS_FILE, compression=zipfile.ZIP_DEFLATED)
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
        where, message = validation_messages(err)[0]
        raise ModelError(f"{meta_file}: {where}: {message} ({err.error_count()} problem(s))") from err
    _refuse_links_out(path)
    if meta.kind == "linear":
        estimator = _load_skops(path / SKOPS_FILE)
    else:
        if not (path / ENCODER_DIR / "model.safetensors").is_file():
            raise ModelError(
                f"{path}: {ENCODER_DIR}/model.safetensors is missing; btr loads encoder weights "
                "only from safetensors, never from pickled .bin files"
            )
        for needed in (path / HEADS_FILE, path / ENCODER_DIR / "config.json"):
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
