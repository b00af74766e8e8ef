"""The corpus-level gaps report: one self-contained HTML file with embedded plots.

Case text and sources are untrusted: every value is escaped by Jinja2's
autoescaping, and only ``http``/``https`` URLs become links.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from btr.corpus import decade
from btr.facts import left_on, returned, returned_on
from btr.files import write_text_atomic
from btr.gaps import FLAG, NOT_ENCODED, RULES, summarise
from btr.schema import Case, Category

__all__ = ["kaplan_meier_data", "render_report", "safe_url", "write_report"]

_TEMPLATE = Path(__file__).with_name("templates") / "gaps_report.html"


def safe_url(url: Any) -> str | None:
    """Return ``url`` if it is an absolute http(s) URL, else None (never linked)."""
    text = str(url or "").strip()
    parts = urlsplit(text)
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return text
    return None


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


_GROUPINGS = {
    "country": lambda c: c.country,
    "decade": decade,
    "trigger": lambda c: c.trigger.value,
    "level": lambda c: c.official.level.value,
}


def flag_counts(cases: list[Case], assessed: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    """Flags per grouping value and rule: ``{grouping: {value: {rule: n}}}``."""
    by_id = {c.id: c for c in cases}
    table: dict[str, dict[str, dict[str, int]]] = {g: defaultdict(Counter) for g in _GROUPINGS}
    for row in assessed:
        case = by_id[row["id"]]
        for rule in row["flags"]:
            for grouping, key in _GROUPINGS.items():
                table[grouping][key(case)][rule] += 1
    return {g: {k: dict(v) for k, v in sorted(values.items())} for g, values in table.items()}


def _bar_plot(counts: dict[str, dict[str, int]], title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(counts)
    rules = [r.id for r in RULES if any(r.id in v for v in counts.values())]
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    bottom = [0] * len(keys)
    for rule in rules:
        values = [counts[k].get(rule, 0) for k in keys]
        ax.bar(keys, values, bottom=bottom, label=rule)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(title)
    ax.set_ylabel("flags")
    ax.tick_params(axis="x", rotation=45, labelsize=8)
    if rules:
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    else:
        ax.text(0.5, 0.5, "no flags", ha="center", va="center", transform=ax.transAxes)
    return _png(fig)


def kaplan_meier_data(cases: Iterable[Case], *, as_of: dt.date) -> dict[str, Any]:
    """Durations (days from resignation to first return) and events for blame-taking resignations.

    Officials not returned (not reappointed, retired, prosecuted) are censored
    at ``as_of``. Cases whose follow-up is unknown, or whose dates are missing,
    are left out and counted. Partial dates count from their midpoint.
    """
    groups: dict[str, dict[str, list]] = {"China": {"t": [], "e": []}, "Elsewhere": {"t": [], "e": []}}
    left_out: Counter = Counter()
    for case in cases:
        if case.category is not Category.btr:
            continue
        left = left_on(case)
        if left is None:
            left_out["no resignation date"] += 1
            continue
        start = left.earliest + (left.latest - left.earliest) / 2
        group = groups["China" if case.country == "CN" else "Elsewhere"]
        came_back = returned(case)
        if came_back:
            first = returned_on(case)
            if first is None:
                left_out["returned, no date"] += 1
                continue
            end = first.earliest + (first.latest - first.earliest) / 2
            group["t"].append(max((end - start).days, 0))
            group["e"].append(1)
        elif came_back is False:
            group["t"].append(max((as_of - start).days, 0))
            group["e"].append(0)
        else:
            left_out[f"follow-up {case.followup.status.value}"] += 1
    return {"groups": groups, "left_out": dict(left_out), "as_of": as_of.isoformat()}


def _km_plot(data: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lifelines import KaplanMeierFitter

    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for name, group in data["groups"].items():
        if not group["t"]:
            continue
        years = [t / 365.25 for t in group["t"]]
        fitter = KaplanMeierFitter(label=f"{name} (n={len(years)}, returned={sum(group['e'])})")
        fitter.fit(years, event_observed=group["e"])
        fitter.plot_survival_function(ax=ax, ci_show=len(years) >= 5)
    ax.set_xlabel("years since the resignation")
    ax.set_ylabel("share not yet returned to a post")
    ax.set_title("Time from blame-taking resignation to return (Kaplan-Meier; not returned = censored)")
    ax.set_ylim(0, 1.05)
    return _png(fig)


_OUTCOMES = [Category.btr, Category.dismissal, Category.no_resignation, Category.other_resignation]


def unequal_standards(cases: Iterable[Case]) -> list[dict[str, Any]]:
    """Per trigger and outcome, the cases with a death count: n and median deaths."""
    import statistics

    cells: dict[tuple[str, str], list[int]] = defaultdict(list)
    for case in cases:
        if case.event.deaths is None or case.category not in _OUTCOMES:
            continue
        cells[(case.trigger.value, case.category.value)].append(case.event.deaths)
    return [
        {
            "trigger": trig,
            "outcome": cat,
            "n": len(d),
            "median_deaths": statistics.median(d),
            "max_deaths": max(d),
        }
        for (trig, cat), d in sorted(cells.items())
    ]


def _unequal_plot(cases: list[Case]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    triggers = sorted({c.trigger.value for c in cases if c.event.deaths is not None})
    outcome_x = {cat.value: i for i, cat in enumerate(_OUTCOMES)}
    for j, trigger in enumerate(triggers):
        xs, ys = [], []
        for case in cases:
            if (
                case.trigger.value == trigger
                and case.event.deaths is not None
                and case.category.value in outcome_x
            ):
                xs.append(outcome_x[case.category.value] + (j - len(triggers) / 2) * 0.06)
                ys.append(case.event.deaths + 1)
        if xs:
            ax.scatter(xs, ys, label=trigger, s=18, alpha=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(_OUTCOMES)), [c.value for c in _OUTCOMES], fontsize=8)
    ax.set_ylabel("deaths + 1 (log)")
    ax.set_title("Unequal standards: harm against outcome, by trigger")
    if triggers:
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(fig)


def render_report(
    cases: list[Case], assessed: list[dict[str, Any]], *, as_of: dt.date | None = None, delay_days: int = 60
) -> str:
    """Render the gaps report as one self-contained HTML string."""
    import jinja2

    as_of = as_of or dt.date.today()
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["safe_url"] = safe_url
    template = env.from_string(_TEMPLATE.read_text(encoding="utf-8"))
    by_id = {c.id: c for c in cases}
    counts = flag_counts(cases, assessed)
    km = kaplan_meier_data(cases, as_of=as_of)
    flagged = [
        {"case": by_id[row["id"]], "finding": f}
        for row in assessed
        for f in row["findings"]
        if f["status"] == FLAG
    ]
    plots = {
        f"Flags by {grouping}": _bar_plot(values, f"Flags by {grouping}")
        for grouping, values in counts.items()
    }
    plots["Time to return"] = _km_plot(km)
    plots["Unequal standards"] = _unequal_plot(cases)
    return template.render(
        generated=as_of.isoformat(),
        n_cases=len(cases),
        delay_days=delay_days,
        rules=[{**r.to_json(), "counts": summarise(assessed)[r.id]} for r in RULES],
        not_encoded=NOT_ENCODED,
        flagged=flagged,
        plots=plots,
        km_left_out=km["left_out"],
        unequal=unequal_standards(cases),
    )


def write_report(
    cases: list[Case],
    assessed: list[dict[str, Any]],
    out: str | Path,
    *,
    as_of: dt.date | None = None,
    delay_days: int = 60,
) -> Path:
    """Write :func:`render_report` to ``out`` (parents created) and return the path."""
    out = Path(out)
    write_text_atomic(out, render_report(cases, assessed, as_of=as_of, delay_days=delay_days))
    return out
