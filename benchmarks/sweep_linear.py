"""Cross-validated scores of the linear model under a few settings (run by hand; asserts nothing).

The folds are those of ``btr evaluate --cv 5`` (grouped by event, stratified by category, the
unrelated, exit and training news texts beside the cases; a training news article goes with its
case). Besides macro-F1 per head over all rows, it prints category macro-F1 and is_btr F1 on the
training news articles alone: the rows in the shape of the news ``btr tag`` reads. The news
evaluation set (``corpus/news_dev.jsonl``) is never read here: settings are chosen on these
folds, and the evaluation set scores the one chosen. Pick on one ``--seed``, check on another.

Usage::

    .venv/bin/python benchmarks/sweep_linear.py [--seed 0] [--set '{"C": 3}' ...]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from sklearn.metrics import f1_score

from btr.corpus import load_cases, load_exits, load_news_train, load_unrelated
from btr.evaluate import _scores, cross_val_proba
from btr.models import LinearModel, applies, hyperparameters
from btr.schema import HEADS, label_names

SETTINGS: list[dict] = [
    {},
    {"C": 3.0},
    {"C": 30.0},
    {"min_df": 0.01},
    {"min_df": 0.02},
    {"focus_sentences": None},
    {"lexicon_heads": ("trigger", "responsibility", "initiation")},
    {"category_cues": 2.0},
]


def scores(cases, extra, news_texts: set[str], params: dict, seed: int) -> dict[str, float]:
    oof = cross_val_proba(LinearModel(**params), cases, unrelated=extra, k=5, seed=seed, quiet=True)
    out = {}
    for head in HEADS:
        mask = applies(head, oof["y"][head])
        names = label_names(HEADS[head])
        predicted = [names[j] for j in oof["proba"][head][mask].argmax(axis=1)]
        out[head] = _scores(list(oof["y"][head][mask]), predicted)["macro_f1"]
    news = np.array([t in news_texts for t in oof["texts"]])
    names = label_names(HEADS["category"])
    predicted = np.array([names[j] for j in oof["proba"]["category"].argmax(axis=1)])
    truth = oof["y"]["category"]
    out["news category"] = f1_score(list(truth[news]), list(predicted[news]), average="macro")
    out["news is_btr"] = f1_score(truth[news] == "btr", predicted[news] == "btr")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set", dest="settings", action="append", type=json.loads, help="a JSON object of params"
    )
    args = parser.parse_args()
    cases = load_cases()
    news = load_news_train()
    extra = [*load_unrelated(), *load_exits(), *news]
    news_texts = {a.text for a in news}
    columns = [*HEADS, "news category", "news is_btr"]
    print(
        f"{len(cases)} cases, {len(news)} training news articles, 5 folds grouped by event, seed {args.seed}"
    )
    print(f"{'setting':<60}" + "".join(f"{c:>15}" for c in columns))
    for params in args.settings or SETTINGS:
        hyperparameters("linear", overrides=params)  # a bad name fails here, before minutes of fitting
        row = scores(cases, extra, news_texts, params, args.seed)
        name = json.dumps(params) if params else "defaults"
        print(f"{name:<60}" + "".join(f"{row[c]:>15.3f}" for c in columns), flush=True)


if __name__ == "__main__":
    main()
