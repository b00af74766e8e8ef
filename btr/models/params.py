"""Hyper-parameters of each model kind, validated by pydantic (``btr train --config FILE --set K=V``).

The estimators' ``__init__`` signatures stay the one source of the names, types and defaults:
each pydantic model here is derived from them, with the few bounds a value must keep. An
unknown name, a value of the wrong type or out of bounds is refused with the name and the
reason, before any training starts.
"""

from __future__ import annotations

import inspect
import json
import tomllib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from btr.errors import InputError
from btr.files import validation_message
from btr.models.linear import LinearModel
from btr.models.transformer import TransformerModel
from btr.schema import HEADS

__all__ = ["PARAMS", "hyperparameters", "parse_overrides"]

# Set by other options (``--seed``, ``--quiet``) or fixed by the schema, never by a config.
_NOT_CONFIGURABLE = {"random_state", "quiet", "heads"}

# Bounds the signatures cannot say.
_BOUNDS: dict[str, dict[str, Any]] = {
    "C": {"gt": 0},
    "min_df": {"ge": 0},
    "max_features": {"gt": 0},
    "focus_sentences": {"ge": 1},
    "lexicon": {"ge": 0},
    "cues": {"ge": 0},
    "category_cues": {"ge": 0},
    "max_length": {"ge": 8},
    "epochs": {"ge": 1},
    "batch_size": {"ge": 1},
    "learning_rate": {"gt": 0},
    "weight_decay": {"ge": 0},
    "dropout": {"ge": 0, "lt": 1},
}


def _params_model(estimator: type, name: str) -> type[BaseModel]:
    hints = typing.get_type_hints(estimator.__init__)
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(estimator.__init__).parameters.values():
        if parameter.name == "self" or parameter.name in _NOT_CONFIGURABLE:
            continue
        fields[parameter.name] = (
            hints[parameter.name],
            Field(parameter.default, **_BOUNDS.get(parameter.name, {})),
        )
    model = create_model(name, __config__=ConfigDict(extra="forbid", frozen=True), **fields)
    model.__doc__ = (
        f"The hyper-parameters of :class:`~btr.models.{estimator.__name__}` (derived from its signature)."
    )
    return model


LinearParams = _params_model(LinearModel, "LinearParams")
TransformerParams = _params_model(TransformerModel, "TransformerParams")
#: The hyper-parameter model of each kind.
PARAMS: dict[str, type[BaseModel]] = {"linear": LinearParams, "transformer": TransformerParams}


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``["C=3", "focus_heads=category,exit_status"]`` as a dict.

    A value is read as JSON when it parses (``3``, ``true``, ``null``, ``["a"]``), as a list of
    names when it has a comma, else as a string; pydantic then checks it against the field.

    Examples
    --------
    >>> parse_overrides(["C=3", "calibrate=false", "cue_heads=category,exit_status", "base_model=xlm-roberta-base"])
    {'C': 3, 'calibrate': False, 'cue_heads': ['category', 'exit_status'], 'base_model': 'xlm-roberta-base'}
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {pair!r}: expected NAME=VALUE, e.g. --set C=3")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = [part.strip() for part in raw.split(",") if part.strip()] if "," in raw else raw
        out[key.strip()] = value
    return out


def _read_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"{path}: cannot read the config ({err.strerror})") from err
    try:
        config = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'} ({err})") from err
    if not isinstance(config, dict):
        raise InputError(f"{path}: a config is a table of NAME = VALUE, not a {type(config).__name__}")
    return config


def hyperparameters(
    kind: str,
    *,
    config: str | Path | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
) -> dict[str, Any]:
    """The validated hyper-parameters of ``kind``: defaults, then ``config``, then ``overrides``.

    Parameters
    ----------
    kind : {"linear", "transformer"}
    config : path, optional
        A JSON or TOML (``.toml``) file of ``NAME = VALUE``.
    overrides : list of "NAME=VALUE" or mapping
        As given to ``btr train --set``; they win over the config.

    Returns
    -------
    dict
        Every parameter of the kind (the defaults filled in), as the estimator takes them.

    Raises
    ------
    InputError
        An unknown name (with the known ones), a wrong type or a value out of bounds.

    Examples
    --------
    >>> hyperparameters("linear", overrides=["C=3"])["C"]
    3.0
    """
    if kind not in PARAMS:
        raise InputError(f"unknown model kind {kind!r}; use one of {', '.join(PARAMS)}")
    values = _read_config(config) if config else {}
    values.update(overrides if isinstance(overrides, Mapping) else parse_overrides(overrides))
    for name, value in values.items():
        if name.endswith("_heads") and isinstance(value, str):  # one head, or none: "--set cue_heads="
            values[name] = [part.strip() for part in value.split(",") if part.strip()]
    model = PARAMS[kind]
    try:
        validated = model.model_validate(values)
    except ValidationError as err:
        known = ", ".join(model.model_fields)
        raise InputError(f"{kind} hyper-parameters: {validation_message(err)} (known: {known})") from err
    params = validated.model_dump()
    for name, value in params.items():
        if name.endswith("_heads") and isinstance(value, list | tuple):
            unknown = sorted(set(value) - set(HEADS))
            if unknown:
                raise InputError(
                    f"{kind} hyper-parameters: {name}: no head {', '.join(unknown)} (heads: {', '.join(HEADS)})"
                )
            params[name] = tuple(value)
    return params
