"""``make demo``: the main job end to end, printing where each output is.

Run as ``python -m btr.demo --out build/demo``. Each step is one function so
that a step can be run or tested on its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from btr.corpus import DEFAULT_CORPUS


def step_gaps(out: Path, corpus: Path = DEFAULT_CORPUS) -> dict:
    """Judge every case and write the self-contained HTML gaps report."""
    from btr.gaps import analyse

    result = analyse(corpus, report=out / "gaps_report.html")
    flags = {rule: counts["flag"] for rule, counts in result["summary"].items()}
    return {"report": result["report"], "flags": flags}


DEFAULT_MODEL = Path("models/default")


def step_train(out: Path, corpus: Path = DEFAULT_CORPUS, model: Path = DEFAULT_MODEL) -> dict:
    """Train the default linear model on the whole corpus into ``models/default``."""
    from btr.models import train

    trained = train(kind="linear", out=model, cases=corpus, name="default", quiet=True)
    meta = trained.meta
    return {
        "model": f"{model} ({meta['size_bytes'] / 1e6:.1f} MB, trained in {meta['training_seconds']:.1f} s)",
        "version": trained.version,
        "card": model / "README.md",
    }


def step_evaluate(out: Path, corpus: Path = DEFAULT_CORPUS, model: Path = DEFAULT_MODEL) -> dict:
    """5-fold cross-validation grouped by event, beside the keyword rules and the majority class."""
    from btr.evaluate import evaluate, table

    report = evaluate(model, data=corpus, cv=5, out=out / "evaluation", quiet=True)
    return {"table": "\n    " + table(report).replace("\n", "\n    "), "plots": out / "evaluation"}


SAMPLES = DEFAULT_CORPUS.parent / "samples"


def step_tag(out: Path, samples: Path = SAMPLES, model: Path = Path("models/default")) -> dict:
    """Tag the sample news articles (JSONL, HTML and a GBK text file) and tabulate the categories."""
    from btr.tag import tag

    result = tag(
        [samples], model=model, out=out / "tags.jsonl", rejects=out / "tag_rejects.jsonl", quiet=True
    )
    table = "".join(f"\n    {label:<20}{count:>4}" for label, count in result.table())
    return {"output": result.out, "tagged": result.tagged, "rejected": result.rejected, "categories": table}


STEPS = {"train": step_train, "evaluate": step_evaluate, "tag": step_tag, "gaps": step_gaps}


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
