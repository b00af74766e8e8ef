"""Regenerate the generated blocks of ``corpus/DATASHEET.md`` (``make datasheet``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from btr.agreement import agreement, corpus_agreement
from btr.corpus import DEFAULT_CORPUS, load_cases, stats, stats_markdown
from btr.files import write_text_atomic
from btr.schema import HEADS, Case

__all__ = ["agreement_markdown", "fill_block", "render_datasheet", "update_datasheet"]


def fill_block(text: str, name: str, body: str) -> str:
    """Replace what stands between ``<!-- name:begin -->`` and ``<!-- name:end -->``."""
    pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"no <!-- {name}:begin/end --> markers")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)


def _table(report: dict, title: str) -> list[str]:
    lines = [f"| {title} | alpha | items |", "|---|---:|---:|"]
    for field in HEADS:
        row = report["fields"].get(field)
        if row is not None and row["items"]:
            value = "undefined" if row["alpha"] is None else f"{row['alpha']:.3f}"
            lines.append(f"| {field} | {value} | {row['items']} |")
    return [*lines, ""]


def agreement_markdown(cases: list[Case]) -> str:
    """Krippendorff's alpha of the double annotation, before and after adjudication."""
    ratings = [
        (c.id, a.annotator, head, getattr(a, head).value)
        for c in cases
        for a in c.curation.annotations
        for head in HEADS
        if getattr(a, head) is not None  # exit_status is absent in annotations made before that head
    ]
    n = len({r[0] for r in ratings})
    if not n:
        return "No case is double-annotated yet."
    lines = [
        f"{n} cases were labelled a second time, blind (texts and sources only), for the four heads.",
        "Before adjudication, the curator's labels against the blind pass (nominal Krippendorff's alpha):",
        "",
        *_table(agreement(ratings), "field (curator vs blind)"),
        "After adjudication, the corpus labels against the blind pass:",
        "",
        *_table(corpus_agreement(cases), "field (final vs blind)"),
    ]
    return "\n".join(lines)


def render_datasheet(text: str, cases: list[Case]) -> str:
    """Fill the generated blocks of a datasheet text from ``cases``."""
    text = fill_block(text, "stats", stats_markdown(stats(cases)))
    return fill_block(text, "agreement", agreement_markdown(cases))


def update_datasheet(path: str | Path, corpus: str | Path = DEFAULT_CORPUS) -> Path:
    """Write the current ``btr corpus stats --markdown`` tables and agreement figures into the datasheet."""
    path = Path(path)
    write_text_atomic(path, render_datasheet(path.read_text(encoding="utf-8"), load_cases(corpus)))
    return path


if __name__ == "__main__":
    update_datasheet(sys.argv[1] if len(sys.argv) > 1 else "corpus/DATASHEET.md")
