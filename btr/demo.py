"""``make demo``: the main job end to end, printing where each output is.

Run as ``python -m btr.demo --out build/demo``. Each step is one function so
that a step can be run or tested on its own.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from btr.corpus import DEFAULT_CORPUS
from btr.files import write_json_atomic, write_jsonl_atomic


def step_gaps(out: Path, corpus: Path = DEFAULT_CORPUS) -> dict:
    """Judge every case and write the self-contained HTML gaps report."""
    from btr.analysis import analyse

    result = analyse(corpus, report=out / "gaps_report.html")
    flags = {rule: counts["flag"] for rule, counts in result["summary"].items()}
    return {"report": result["report"], "flags": flags}


def _model(out: Path) -> Path:
    # the demo trains its own model under OUT: a fresh clone stays as it was cloned, and the
    # shipped models/default changes only by ``make model``
    return out / "model"


def step_train(out: Path, corpus: Path = DEFAULT_CORPUS, model: Path | None = None) -> dict:
    """Train the default linear recipe on the whole corpus into ``OUT/model``."""
    from btr.models import train

    model = model or _model(out)
    trained = train(kind="linear", out=model, cases=corpus, name="default", quiet=True)
    meta = trained.meta
    return {
        "model": f"{model} ({meta['size_bytes'] / 1e6:.1f} MB, trained in {meta['training_seconds']:.1f} s)",
        "version": trained.version,
        "card": model / "README.md",
    }


def step_evaluate(out: Path, corpus: Path = DEFAULT_CORPUS, model: Path | None = None) -> dict:
    """5-fold cross-validation grouped by event, beside the keyword rules and the majority class."""
    from btr.evaluate import evaluate, table

    report = evaluate(model or _model(out), data=corpus, cv=5, out=out / "evaluation", quiet=True)
    return {"table": "\n    " + table(report).replace("\n", "\n    "), "plots": out / "evaluation"}


SAMPLES = DEFAULT_CORPUS.parent / "samples"


def step_tag(out: Path, samples: Path = SAMPLES, model: Path | None = None) -> dict:
    """Tag the sample news articles (JSONL, HTML and a GBK text file) and tabulate the categories."""
    from btr.tag import tag

    result = tag(
        [samples],
        model=model or _model(out),
        out=out / "tags.jsonl",
        rejects=out / "tag_rejects.jsonl",
        quiet=True,
    )
    table = "".join(f"\n    {label:<20}{count:>4}" for label, count in result.table())
    return {"output": result.out, "tagged": result.tagged, "rejected": result.rejected, "categories": table}


def step_news(out: Path, model: Path | None = None) -> dict:
    """Score the model on the held-out news set (``btr evaluate --news``): real reports, unrelated news included."""
    from btr.news_eval import evaluate_news, news_table

    report = evaluate_news(model or _model(out))
    write_json_atomic(out / "news_evaluation.json", report)
    return {"table": "\n    " + news_table(report).replace("\n", "\n    ")}


def step_mixed(out: Path, model: Path | None = None, n: int = 60, seed: int = 0) -> dict:
    """Tag a sample of the news set in which unrelated news outnumbers the resignations three to one."""
    from btr.corpus import load_news
    from btr.tag import tag

    articles = load_news()
    rng = random.Random(seed)
    unrelated = [a for a in articles if a.category.value == "unrelated"]
    relevant = [a for a in articles if a.category.value != "unrelated"]
    sample = rng.sample(unrelated, min(len(unrelated), n * 3 // 4)) + rng.sample(
        relevant, min(len(relevant), n // 4)
    )
    rng.shuffle(sample)
    path = out / "mixed_sample.jsonl"
    write_jsonl_atomic(path, ({"id": a.id, "text": a.text} for a in sample))
    result = tag([path], model=model or _model(out), out=out / "mixed_tags.jsonl", quiet=True)
    truth = {a.id: a.category.value for a in sample}
    tagged = [
        json.loads(line) for line in (out / "mixed_tags.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    right = sum(t["category"]["label"] == truth[t["id"]] for t in tagged)
    table = "".join(f"\n    {label:<20}{count:>4}" for label, count in result.table())
    return {"sample": f"{path} ({len(sample)} articles: {sum(v == 'unrelated' for v in truth.values())} unrelated)",
            "category right": f"{right} of {len(tagged)}", "categories": table}  # fmt: skip


STEPS = {
    "train": step_train,
    "evaluate": step_evaluate,
    "news": step_news,
    "tag": step_tag,
    "mixed": step_mixed,
    "gaps": step_gaps,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m btr.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("build/demo"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, step in STEPS.items():
        result = step(args.out)
        print(f"[{name}]", file=sys.stderr)
        for key, value in result.items():
            print(f"  {key}: {value}", file=sys.stderr)
    print(f"\noutputs are in {args.out.resolve()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
