"""The ``btr`` command line: every subcommand parses options and calls one library function.

Data goes to stdout, messages to stderr. Exit codes are listed in :mod:`btr.errors`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from btr import __version__
from btr.errors import BtrError

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}
_corpus_path = click.Path(dir_okay=False, path_type=Path)


class _Group(click.Group):
    """Turn a :class:`BtrError` into one clear line on stderr and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BtrError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(err.exit_code)


def _emit_json(payload) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="btr")
def main() -> None:
    """btr: blame-taking resignation (引咎辞职) corpus, annotation, models, tagging and gap analysis."""


# --------------------------------------------------------------------------- corpus


@main.group(cls=_Group, context_settings=CONTEXT)
def corpus() -> None:
    """Validate, summarise and export the case corpus."""


def _default_corpus() -> Path:
    from btr.corpus import DEFAULT_CORPUS

    return DEFAULT_CORPUS


@corpus.command("validate", context_settings=CONTEXT)
@click.argument("path", type=_corpus_path, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the problems as a JSON list.")
def corpus_validate(path: Path | None, as_json: bool) -> None:
    """Check every record of PATH (default: corpus/cases.jsonl); exit 1 on any problem."""
    from btr.corpus import validate

    path = path or _default_corpus()
    problems = validate(path)
    if as_json:
        _emit_json([p.__dict__ for p in problems])
    else:
        for problem in problems:
            click.echo(str(problem))
        click.echo(f"{path}: {len(problems)} problem(s)" if problems else f"{path}: OK", err=True)
    sys.exit(1 if problems else 0)


@corpus.command("stats", context_settings=CONTEXT)
@click.argument("path", type=_corpus_path, required=False)
@click.option("--json", "fmt", flag_value="json", help="Print JSON.")
@click.option("--markdown", "fmt", flag_value="markdown", help="Print Markdown tables.")
def corpus_stats(path: Path | None, fmt: str | None) -> None:
    """Count cases by category, country, trigger, responsibility, initiation, follow-up and decade."""
    from btr.corpus import load_cases, stats, stats_markdown

    summary = stats(load_cases(path or _default_corpus()))
    if fmt == "json":
        _emit_json(summary)
        return
    if fmt == "markdown":
        click.echo(stats_markdown(summary))
        return
    click.echo(
        f"cases {summary['cases']}  events {summary['events']}  "
        f"verified {summary['verified']} ({summary['verified_share']:.1%})  "
        f"sources {summary['sources']}"
    )
    for name, counts in summary["by"].items():
        click.echo(f"\n{name}")
        for label, count in counts.items():
            click.echo(f"  {label:<32}{count:>5}")


@corpus.command("export", context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(["hf", "parquet", "csv", "jsonl"]), default="jsonl")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--cases", type=_corpus_path, default=None, help="Corpus file [default: corpus/cases.jsonl].")
@click.option("--seed", type=int, default=0, help="Seed of the grouped, stratified split.")
def corpus_export(fmt: str, out: Path, cases: Path | None, seed: int) -> None:
    """Export train/validation/test splits (one row per case and language)."""
    from btr.corpus import export

    for written in export(out, format=fmt, path=cases or _default_corpus(), seed=seed):
        click.echo(str(written))


@corpus.command("merge", context_settings=CONTEXT)
@click.argument(
    "sources", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--into", type=_corpus_path, default=None, help="Corpus to merge into [default: corpus/cases.jsonl]."
)
@click.option("--replace", is_flag=True, help="Replace cases whose id is already in the corpus.")
def corpus_merge(sources: tuple[Path, ...], into: Path | None, replace: bool) -> None:
    """Validate SOURCES (JSONL case files) and merge them into the corpus atomically."""
    from btr.corpus import merge

    report = merge(sources, into=into or _default_corpus(), replace=replace)
    click.echo(", ".join(f"{k} {len(v)}" for k, v in report.items()), err=True)


@corpus.command("adjudicate", context_settings=CONTEXT)
@click.argument("decisions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--into", type=_corpus_path, default=None, help="Corpus to change [default: corpus/cases.jsonl]."
)
@click.option("--by", default="lead", help="Who decided (written into the case notes).")
def corpus_adjudicate(decisions: Path, into: Path | None, by: str) -> None:
    """Apply a JSON file of adjudication decisions to the corpus, noting each change in the case."""
    from btr.corpus import adjudicate

    report = adjudicate(decisions, into=into or _default_corpus(), by=by)
    click.echo(", ".join(f"{k} {len(v)}" for k, v in report.items()), err=True)
    for cid in report["missing"]:
        click.echo(f"warning: no case {cid!r} in the corpus", err=True)


# --------------------------------------------------------------------------- gaps


@main.command("gaps", context_settings=CONTEXT)
@click.option("--cases", type=_corpus_path, default=None, help="Case file [default: corpus/cases.jsonl].")
@click.option("--json", "as_json", is_flag=True, help="Print every finding of every case as JSON.")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the HTML report here.",
)
@click.option(
    "--delay-days", type=click.IntRange(min=0), default=60, help="Threshold of the long_delay rule."
)
def gaps(cases: Path | None, as_json: bool, report: Path | None, delay_days: int) -> None:
    """Flag procedural gaps per case against the rules in force; optionally write the report."""
    from btr.gaps import analyse

    result = analyse(cases, delay_days=delay_days, report=report)
    if as_json:
        _emit_json(result)
    else:
        for row in result["cases"]:
            for finding in row["findings"]:
                if finding["status"] == "flag":
                    evidence = ", ".join(f"{k}={v}" for k, v in finding["evidence"].items())
                    click.echo(
                        f"{row['id']}\t{finding['rule']}\t{finding['reason']}\t{evidence}\t{finding['source']}"
                    )
        click.echo(f"{'rule':<44}{'flag':>6}{'ok':>6}{'cannot':>8}{'n/a':>6}", err=True)
        for rule, counts in result["summary"].items():
            click.echo(
                f"{rule:<44}{counts['flag']:>6}{counts['ok']:>6}{counts['cannot_assess']:>8}{counts['not_applicable']:>6}",
                err=True,
            )
    if result["report"]:
        click.echo(f"report: {result['report']}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
