"""The gaps analysis end to end: load a corpus, judge every case by the rules, write the report.

Orchestration lives here so that :mod:`btr.gaps` holds only the rules and :mod:`btr.report`
only the rendering; each imports neither this module nor the other's callers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from btr.corpus import DEFAULT_CORPUS, load_cases
from btr.gaps import RULES, assess, summarise
from btr.report import write_report
from btr.settings import DEFAULT_DELAY_DAYS

__all__ = ["analyse"]


def analyse(
    cases_path: str | Path | None = None,
    *,
    delay_days: int = DEFAULT_DELAY_DAYS,
    report: str | Path | None = None,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """Load a corpus, judge every case, and optionally write the HTML report.

    Parameters
    ----------
    cases_path : path, optional
        A case file; the checked-in corpus by default.
    delay_days : int
        Threshold of the ``long_delay`` rule.
    report : path, optional
        Where to write the self-contained HTML report.
    as_of : date, optional
        Censoring date of the Kaplan-Meier curves (today by default).

    Returns
    -------
    dict
        ``{"cases": [...], "summary": {rule: counts}, "rules": [...], "report": path or None}``.

    Examples
    --------
    >>> result = analyse(report="build/gaps.html")  # doctest: +SKIP
    >>> result["summary"]["long_delay"]["flag"]  # doctest: +SKIP
    3
    """
    cases = load_cases(cases_path or DEFAULT_CORPUS)
    assessed = assess(cases, delay_days=delay_days)
    written = None
    if report is not None:
        written = str(write_report(cases, assessed, report, as_of=as_of, delay_days=delay_days))
    return {
        "cases": assessed,
        "summary": summarise(assessed),
        "rules": [rule.to_json() for rule in RULES],
        "report": written,
    }
