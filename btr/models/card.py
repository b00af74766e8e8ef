"""Model metadata (``meta.json``, validated) and the model card rendered from it."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from btr.schema import (
    HEADS,
    label_names,
)


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
    news_train: str | None = Field(default=None, description="The training news articles, if any")
    news_train_sha256: str | None = None
    news_texts: int = 0


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
    """The model card (``README.md``) of a model: a :class:`skops.card.Card` built from its
    validated metadata (so that it can be regenerated after an evaluation, without the weights)."""
    import re

    from skops.card import Card

    meta = meta if isinstance(meta, ModelMeta) else ModelMeta.model_validate(meta)
    card = Card(None, template=None, model_diagram=False)
    intro = (
        f"A btr `{meta.kind}` classifier, version `{meta.version}`, created {meta.created}."
        + (f" Fine-tuned from `{meta.base_model}`." if meta.base_model else "")
        + "\nGenerated from `meta.json` by `btr.models.render_card`; do not edit by hand."
    )
    card.add(**{meta.name: intro})
    card.add(
        **{
            f"{meta.name}/Intended use": _INTENDED
            + "\nEvery prediction carries a probability; low scores deserve a human look."
            + "\nNot for judging individuals: a label says what a text reports, not what happened."
        }
    )
    body = "\n".join(_card_heads(meta) + _card_training(meta) + _card_metrics(meta) + _card_limits(meta))
    for heading, text in re.findall(r"^## (.+)\n((?:(?!^## ).*\n?)*)", body, flags=re.M):
        card.add(**{f"{meta.name}/{heading.replace('/', ' or ')}": text.strip()})
    # as JSON: the same text whether the params are the estimator's tuples or meta.json's lists
    rows = [
        f"| `{name}` | `{json.dumps(value, ensure_ascii=False)}` |"
        for name, value in sorted(meta.params.items())
    ]
    card.add(**{f"{meta.name}/Hyper-parameters": "\n".join(["| name | value |", "|---|---|", *rows])})
    return card.render().lstrip("\n") + "\n"


def _card_heads(meta: ModelMeta) -> list[str]:
    lines = [
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
    return [
        *lines,
        "",
        'Heads other than `category` are conditional: they answer "if this is a blamed exit, which '
        'trigger / basis / initiator?" and should be read with `category`.',
        "",
    ]


def _card_training(meta: ModelMeta) -> list[str]:
    c = meta.corpus
    return [
        "## Training data",
        "",
        f"`{c.path}` (sha256 `{c.sha256[:16]}…`): {c.cases} cases in {c.events} events, "
        f"{c.rows} text rows in {', '.join(c.languages)} (one per case and language). Seed {meta.seed}.",
        "The texts are the project's own summaries of public reports (zh, en and the language of the "
        "case's country)"
        + (f", {c.unrelated_texts} unrelated news-style texts (`{c.unrelated}`)" if c.unrelated_texts else "")
        + (f" and {c.exit_texts} exit texts that name no one (`{c.exits}`)" if c.exit_texts else "")
        + (
            f", and {c.news_texts} news-style reports of corpus cases (`{c.news_train}`)"
            if c.news_texts
            else ""
        )
        + ".",
        "",
    ]


def _card_metrics(meta: ModelMeta) -> list[str]:
    lines = ["## Metrics", ""]
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
    return lines


def _card_limits(meta: ModelMeta) -> list[str]:
    c = meta.corpus
    lines = [
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
    return lines
