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
from btr.files import write_text_atomic
from btr.paths import DEFAULT_MODEL
from btr.settings import (
    DEFAULT_BASE_MODEL,
    DEFAULT_BATCH_SIZE,
    DEFAULT_DELAY_DAYS,
    ENGINES,
    FORMATS,
    KINDS,
)

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
    "--delay-days",
    type=click.IntRange(min=0),
    default=DEFAULT_DELAY_DAYS,
    help="Threshold of the long_delay rule.",
)
def gaps(cases: Path | None, as_json: bool, report: Path | None, delay_days: int) -> None:
    """Flag procedural gaps per case against the rules in force; optionally write the report."""
    from btr.analysis import analyse

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


# --------------------------------------------------------------------------- annotate


@main.group(cls=_Group, context_settings=CONTEXT)
def annotate() -> None:
    """The Label Studio loop: config, push, pull, agreement, and a local server (serve)."""


def _connection_options(func):
    func = click.option(
        "--api-key", envvar="LABEL_STUDIO_API_KEY", show_envvar=True, default=None, show_default=False,
        help="Label Studio API token (never printed).",
    )(func)  # fmt: skip
    return click.option(
        "--url", envvar="LABEL_STUDIO_URL", show_envvar=True, default=None, show_default=False,
        help="Label Studio base URL [default: http://127.0.0.1:8080].",
    )(func)  # fmt: skip


_state_option = click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("annotate/state"),
    help="Where the push/pull state (and the default conflicts file) is kept.",
)  # fmt: skip
_model_path = click.Path(file_okay=False, path_type=Path)


def _model_options(command):
    """``--model`` and ``--no-model``, shared by ``annotate push`` and ``annotate serve``."""
    command = click.option("--no-model", is_flag=True, help="Push without pre-annotations.")(command)
    return click.option(
        "--model",
        type=_model_path,
        default=None,
        help="Pre-annotate with this model [default: models/default if present].",
    )(command)


def _default_model(model: Path | None, no_model: bool) -> Path | None:

    if no_model:
        return None
    if model is None and (DEFAULT_MODEL / "meta.json").exists():
        return DEFAULT_MODEL
    return model


@annotate.command("config", context_settings=CONTEXT)
@click.option("-o", "--out", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=Path("-"),
              help="Write the XML here (- for stdout).")  # fmt: skip
def annotate_config(out: Path) -> None:
    """Print the Label Studio labeling config generated from the schema."""
    from btr.labelstudio import labeling_config

    xml = labeling_config()
    if str(out) == "-":
        click.echo(xml, nl=False)
    else:
        write_text_atomic(out, xml)
        click.echo(f"wrote {out}", err=True)


@annotate.command("push", context_settings=CONTEXT)
@click.option("--project", required=True, help="Project title (created if missing).")
@click.option("--cases", type=_corpus_path, default=None, help="Corpus JSONL [default: corpus/cases.jsonl].")
@click.option(
    "--articles",
    type=_corpus_path,
    default=None,
    help="JSONL of articles: id, text, title, date, url, publisher.",
)
@_model_options
@click.option(
    "--only-uncertain",
    type=click.IntRange(min=1),
    default=None,
    help="Import only the N new items the model is least sure of.",
)
@click.option(
    "--uncertainty",
    type=click.Choice(["margin", "entropy"]),
    default="margin",
    help="How --only-uncertain ranks items.",
)
@_state_option
@_connection_options
def annotate_push(
    project, cases, articles, model, no_model, only_uncertain, uncertainty, state_dir, url, api_key
) -> None:
    """Import cases or articles as tasks, idempotently (a changed case updates its task)."""
    from btr.labelstudio import push

    result = push(
        project, cases=cases, articles=articles, model=_default_model(model, no_model),
        only_uncertain=only_uncertain, uncertainty=uncertainty, url=url, api_key=api_key, state_dir=state_dir,
    )  # fmt: skip
    line = (
        f"project {project!r} (id {result.project_id}): {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.predictions} with predictions"
    )
    if result.model_version:
        line += f" ({result.model_version})"
    if only_uncertain is not None:
        line += f"; {result.skipped_certain} more certain items left out"
    click.echo(line)


@annotate.command("pull", context_settings=CONTEXT)
@click.option("--project", required=True, help="Project title.")
@click.option(
    "--into", type=_corpus_path, default=None, help="Corpus to merge into [default: corpus/cases.jsonl]."
)
@click.option(
    "--export",
    "export_file",
    type=_corpus_path,
    default=None,
    help="Merge a saved full JSON export instead of asking the server.",
)
@click.option(
    "--conflicts",
    type=_corpus_path,
    default=None,
    help="Conflicts file [default: <state-dir>/<project>.conflicts.jsonl].",
)
@_state_option
@_connection_options
def annotate_pull(project, into, export_file, conflicts, state_dir, url, api_key) -> None:
    """Merge the project's annotations into the corpus; exit 3 when conflicts were written aside.

    \b
    Adjudication, per field, among the annotators who filled it (skipped and
    cancelled annotations dropped; an annotator's latest annotation counts):
      - a ground-truth (starred) annotation decides;
      - else a strict majority wins (two annotators must agree);
      - else the field is left as it is and listed as a disagreement.
    A field edited locally since the last push or pull keeps the local value
    and is listed as a local_edit. An article whose annotations name the
    official becomes a new case. Details: the docstring of btr.labelstudio.
    """
    from btr.errors import ConflictError
    from btr.labelstudio import pull

    result = pull(
        project,
        into=into,
        export=export_file,
        conflicts=conflicts,
        url=url,
        api_key=api_key,
        state_dir=state_dir,
    )
    click.echo(
        f"{result.annotated_tasks} annotated tasks ({result.dropped_annotations} skipped or "
        f"cancelled annotations dropped): {len(result.updated_cases)} cases updated, "
        f"{len(result.new_cases)} new cases, {result.articles_not_cases} articles not cases"
    )
    if result.conflicts:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(_count(c["kind"] for c in result.conflicts).items()))
        raise ConflictError(f"{len(result.conflicts)} conflicts ({kinds}) written to {result.conflicts_path}")


def _count(items) -> dict:
    from collections import Counter

    return dict(Counter(items))


@annotate.command("agreement", context_settings=CONTEXT)
@click.option("--project", default=None, help="Project title.")
@click.option(
    "--export", "export_file", type=_corpus_path, default=None, help="A saved full JSON export instead."
)
@click.option("--cases", type=_corpus_path, default=None, help="The corpus's own double annotation instead.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_connection_options
def annotate_agreement(project, export_file, cases, as_json, url, api_key) -> None:
    """Krippendorff's alpha per field and Cohen's kappa per annotator pair, with item counts."""
    from btr.agreement import format_agreement

    if sum(x is not None for x in (project, export_file, cases)) != 1:
        raise click.UsageError("give exactly one of --project, --export, --cases")
    if cases is not None:
        from btr.agreement import corpus_agreement
        from btr.corpus import load_cases

        report = corpus_agreement(load_cases(cases))
    else:
        from btr.labelstudio import agreement_report

        report = agreement_report(project, export=export_file, url=url, api_key=api_key)
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else format_agreement(report))


@annotate.command("serve", context_settings=CONTEXT)
@click.option("--project", default="btr", help="Project title.")
@click.option("--port", type=int, default=8080, help="Port on 127.0.0.1 (a free one if busy).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".label-studio"),
              help="Label Studio's data (annotations survive restarts here).")  # fmt: skip
@click.option("--cases", type=_corpus_path, default=None, help="Corpus JSONL [default: corpus/cases.jsonl].")
@_model_options
@_state_option
def annotate_serve(project, port, data_dir, cases, model, no_model, state_dir) -> None:
    """Start a local Label Studio with the corpus pushed; Ctrl-C stops it."""
    from btr.labelstudio import serve

    def ready(info) -> None:
        pushed = info.push
        click.echo(
            f"Label Studio {info.url}  (started in {info.startup_seconds:.0f} s, data in {info.data_dir})"
        )
        click.echo(f"  project  {info.project_url}")
        click.echo(f"  login    {info.username}  password {info.password}")
        if pushed is not None:
            click.echo(
                f"  tasks    {pushed.created} created, {pushed.updated} updated, {pushed.unchanged} unchanged, "
                f"{pushed.predictions} with predictions{f' ({pushed.model_version})' if pushed.model_version else ''}"
            )
        click.echo("Ctrl-C stops the server; annotations stay in the data directory.", err=True)

    click.echo("starting Label Studio (the first start takes about a minute) ...", err=True)
    serve(project=project, data_dir=data_dir, port=port, cases=cases, model=_default_model(model, no_model),
          state_dir=state_dir, on_ready=ready)  # fmt: skip
    click.echo("stopped", err=True)


# --------------------------------------------------------------------------- models (train, evaluate)


@main.command("train", context_settings=CONTEXT)
@click.option(
    "--model",
    "kind",
    type=click.Choice(KINDS),
    default="linear",
    help="linear: TF-IDF + logistic regression; transformer: fine-tune a Hugging Face encoder.",
)
@click.option(
    "--base-model",
    default=None,
    help=f"Transformer checkpoint: a hub name or a local path [default: {DEFAULT_BASE_MODEL}].",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="models/NAME")
@click.option("--seed", type=int, default=0)
@click.option("--cases", type=_corpus_path, default=None, help="Corpus JSONL [default: corpus/cases.jsonl].")
@click.option("--unrelated", type=_corpus_path, default=None,
              help="Unrelated news texts, learned as 'unrelated' [default: corpus/unrelated.jsonl].")  # fmt: skip
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Transformer epochs [default: 3].")
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Hyper-parameters: a JSON or TOML file of NAME = VALUE.")  # fmt: skip
@click.option("--set", "overrides", multiple=True, metavar="NAME=VALUE",
              help="One hyper-parameter (repeatable; wins over --config), e.g. --set C=3.")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_command(kind: str, base_model: str | None, out: Path, seed: int, cases: Path | None,
                  unrelated: Path | None, epochs: int | None, config: Path | None, overrides: tuple[str, ...],
                  quiet: bool) -> None:  # fmt: skip
    """Train a classifier for every head on the whole corpus and save it to OUT.

    Hyper-parameters are checked before training starts: `btr train --set C=0` or an unknown
    name stops with the reason and the names the model kind knows.
    """
    from btr.models import hyperparameters, train

    params = hyperparameters(
        kind, config=config, overrides=[*overrides, *([f"epochs={epochs}"] if epochs else [])]
    )
    model = train(kind=kind, out=out, base_model=base_model, seed=seed, cases=cases, unrelated=unrelated,
                  params=params, quiet=quiet or None)  # fmt: skip
    click.echo(f"saved {model.kind} model {model.version} to {out} "
               f"({model.meta['size_bytes'] / 1e6:.1f} MB, {model.meta['training_seconds']:.1f} s)", err=True)  # fmt: skip


@main.command("evaluate", context_settings=CONTEXT)
@click.option("--model", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_MODEL,
              show_default="models/default", help="Model directory.")  # fmt: skip
@click.option("--data", type=_corpus_path, default=None, help="Labelled cases [default: corpus/cases.jsonl].")
@click.option(
    "--cv", type=click.IntRange(min=2), default=None, help="K-fold cross-validation grouped by event."
)
@click.option("--news", type=_corpus_path, is_flag=False, flag_value=Path("-"), default=None,
              help="Score on a news evaluation set instead (FILE optional) [default: corpus/news_dev.jsonl].")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option("--suspects", is_flag=True, help="Also list cases whose cross-validated prediction "
              "confidently disagrees with their label.")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write report.json and the confusion and reliability PNGs here.")  # fmt: skip
@click.option("--seed", type=int, default=0, help="Seed of the folds or the split.")
@click.option(
    "--no-record", is_flag=True, help="Do not record the figures in the model's meta.json and card."
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def evaluate_command(model: Path, data: Path | None, cv: int | None, news: Path | None, as_json: bool,
                     suspects: bool, out: Path | None, seed: int, no_record: bool, quiet: bool) -> None:  # fmt: skip
    """Score a model per head beside keyword rules and the majority class, never on its training data."""
    if news is not None:
        from btr.news_eval import evaluate_news, news_table

        report = evaluate_news(model, news=None if str(news) == "-" else news, record=not no_record)
        click.echo(
            json.dumps(report, ensure_ascii=False, indent=2, default=str) if as_json else news_table(report)
        )
        return
    from btr.evaluate import evaluate, table

    report = evaluate(model, data=data, cv=cv, out=out, suspects=suspects, seed=seed,
                      record=not no_record, quiet=quiet or None)  # fmt: skip
    if as_json:
        _emit_json(report)
        return
    click.echo(table(report))
    for item in report.get("suspects", []):
        click.echo(f"suspect {item['id']:<48} {item['head']:<15} {item['given']} -> {item['suggested']} "
                   f"(p {item['p_suggested']:.2f} vs {item['p_given']:.2f})")  # fmt: skip
    if out:
        click.echo(f"wrote {len(report['files'])} files to {out}", err=True)


# --------------------------------------------------------------------------- tag


@main.command("tag", context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True)
@click.option("--model", "model_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_MODEL, show_default="models/default", help="Model directory.")  # fmt: skip
@click.option("-o", "--out", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=Path("-"),
              help="Output file (- for stdout).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", help="Output format.")
@click.option("--text-field", default="text", help="JSON key or CSV column of the article text.")
@click.option("--id-field", default="id", help="JSON key or CSV column of the article id.")
@click.option("--explain", is_flag=True, help="Add the sentence that most supports the category.")
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write unreadable records here (JSONL: file, line, field, reason).")  # fmt: skip
@click.option("--strict", is_flag=True, help="Stop at the first unreadable record (exit 1).")
@click.option("--resume", is_flag=True, help="Append to OUT, skipping ids it already holds.")
@click.option("--quiet", is_flag=True, help="No progress bar (also BTR_QUIET=1).")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    help="Articles per prediction batch.",
)
@click.option("--engine", type=click.Choice(ENGINES), default=ENGINES[0], help="Where batches run.")
@click.option("--scheduler", default=None, help="Dask scheduler address [default: a LocalCluster].")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Workers of the LocalCluster [default: one per core].")  # fmt: skip
@click.option("--encoding", default=None,
              help="Encoding of CSV and text inputs when known (JSONL is always UTF-8) [default: detected].")  # fmt: skip
def tag_command(inputs, model_dir, out, fmt, text_field, id_field, explain, rejects, strict, resume, quiet,
                batch_size, engine, scheduler, workers, encoding) -> None:  # fmt: skip
    """Tag news articles (JSONL, CSV, .txt/.html files, directories, globs or - for stdin).

    One record per article: id, is_btr and {label, score} for each head; a summary goes to stderr.
    """
    from btr.tag import tag

    summary = tag(inputs, model=model_dir, out=None if str(out) == "-" else out, format=fmt,
                  text_field=text_field, id_field=id_field, explain=explain, rejects=rejects, strict=strict,
                  resume=resume, quiet=quiet or None, batch_size=batch_size, engine=engine,
                  scheduler=scheduler, workers=workers, encoding=encoding)  # fmt: skip
    click.echo(summary.describe(), err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
