"""Cross-validated macro-F1 of the linear model under a few settings (run by hand; asserts nothing).

The folds are those of ``btr evaluate --cv 5`` (grouped by event, stratified by category); the
temperature calibration is left out because it does not move the argmax. The point is to see
whether a setting, rather than data, limits the scores: pick settings on one ``--seed`` and
check them on another.

Usage::

    .venv/bin/python benchmarks/sweep_linear.py [--seed 0] [--data corpus/cases.jsonl]
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np

from btr.corpus import DEFAULT_CORPUS, load_cases
from btr.evaluate import _fold_splitter, _rows, _scores
from btr.models import LinearModel, applies
from btr.schema import HEADS, label_names

SETTINGS: list[dict] = [
    {},
    {"C": 1.0},
    {"C": 10.0},
    {"C": 30.0},
    {"min_df": 0.005},
    {"min_df": 0.02},
    {"lexicon": 0.0},
    {"lexicon": 2.0},
    {"class_weight": None},
    {"focus_heads": ("category", "trigger")},
    {"lexicon_heads": ("category", "trigger", "responsibility", "initiation")},
]


def cross_validated_f1(cases, params: dict, seed: int) -> dict[str, float]:
    texts, y, _, _ = _rows(cases)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        splits = list(
            _fold_splitter(5, seed).split(
                np.zeros(len(cases)), [c.category.value for c in cases], [c.event_id for c in cases]
            )
        )
    proba = {head: np.zeros((len(texts), len(label_names(HEADS[head])))) for head in HEADS}
    for train_cases, test_cases in splits:
        # rows come in pairs (zh, en) per case, as btr.evaluate builds them
        train = np.concatenate([[2 * i, 2 * i + 1] for i in train_cases])
        test = np.concatenate([[2 * i, 2 * i + 1] for i in test_cases])
        model = LinearModel(calibrate=False, **params)
        model.fit([texts[i] for i in train], {head: y[head][train] for head in HEADS})
        for head, p in model.head_proba([texts[i] for i in test]).items():
            proba[head][test] = p
    scores = {}
    for head in HEADS:
        mask = applies(head, y[head])
        names = label_names(HEADS[head])
        predicted = [names[j] for j in proba[head][mask].argmax(axis=1)]
        scores[head] = round(_scores(list(y[head][mask]), predicted)["macro_f1"], 3)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=str(DEFAULT_CORPUS))
    args = parser.parse_args()
    cases = load_cases(args.data)
    print(f"{len(cases)} cases, 5 folds grouped by event, seed {args.seed}; macro-F1 per head")
    print(f"{'setting':<72}" + "".join(f"{h:>16}" for h in HEADS))
    for params in SETTINGS:
        scores = cross_validated_f1(cases, params, args.seed)
        name = json.dumps(params) if params else "defaults"
        print(f"{name:<72}" + "".join(f"{scores[h]:>16.3f}" for h in HEADS), flush=True)


if __name__ == "__main__":
    main()
