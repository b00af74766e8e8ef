"""Inter-annotator agreement: Krippendorff's alpha per field and Cohen's kappa per annotator pair.

Open-source Label Studio has no agreement metrics, so btr computes them from a
plain long table of ratings, one row per ``(item, annotator, field, label)``.
The same table serves the Label Studio export (:func:`btr.labelstudio.export_ratings`)
and the corpus's own double annotation (:func:`corpus_agreement`).

Every figure comes with the number of items behind it: alpha counts the items
that at least two annotators labelled (only those can disagree), kappa the
items both annotators of the pair labelled. A figure is ``None`` when it is
undefined, which happens when every rating carries the same label (there is
no chance disagreement to compare against); the ``note`` says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np

from btr.errors import InputError
from btr.schema import HEADS, Case

__all__ = ["PRIMARY", "agreement", "corpus_agreement", "format_agreement"]

#: The annotator name given to a case's own labels in :func:`corpus_agreement`.
PRIMARY = "primary"

_COLUMNS = ("item", "annotator", "field", "label")


def _as_tuple(row: Sequence[Any] | Mapping[str, Any], index: int) -> tuple[str, str, str, str]:
    if isinstance(row, Mapping):
        try:
            values = tuple(row[c] for c in _COLUMNS)
        except KeyError as err:
            raise InputError(
                f"rating {index}: missing column {err.args[0]!r} (need {', '.join(_COLUMNS)})"
            ) from err
    else:
        values = tuple(row)
        if len(values) != 4:
            raise InputError(f"rating {index}: expected 4 values ({', '.join(_COLUMNS)}), got {len(values)}")
    if any(v is None or str(v) == "" for v in values):
        raise InputError(f"rating {index}: empty value in {values!r}")
    return tuple(str(v) for v in values)  # type: ignore[return-value]


def _alpha(by_item: dict[str, dict[str, str]]) -> tuple[float | None, int, str]:
    """Nominal alpha over items with two or more ratings; returns (alpha, items, note)."""
    import krippendorff

    pairable = {item: ratings for item, ratings in by_item.items() if len(ratings) >= 2}
    if not pairable:
        return None, 0, "no item has two ratings"
    annotators = sorted({a for ratings in pairable.values() for a in ratings})
    labels = sorted({label for ratings in pairable.values() for label in ratings.values()})
    if len(labels) < 2:
        return None, len(pairable), "every rating has the same label: alpha is undefined"
    code = {label: i for i, label in enumerate(labels)}
    data = np.full((len(annotators), len(pairable)), np.nan)
    row_of = {a: i for i, a in enumerate(annotators)}
    for j, ratings in enumerate(pairable.values()):
        for annotator, label in ratings.items():
            data[row_of[annotator], j] = code[label]
    value = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    return float(value), len(pairable), ""


def _kappa(first: list[str], second: list[str]) -> tuple[float | None, str]:
    from sklearn.metrics import cohen_kappa_score

    if not first:
        return None, "no item labelled by both"
    if len(set(first) | set(second)) < 2:
        return None, "both used one and the same label: kappa is undefined"
    return float(cohen_kappa_score(first, second)), ""


def agreement(ratings: Iterable[Sequence[Any] | Mapping[str, Any]]) -> dict[str, Any]:
    """Krippendorff's alpha (nominal) per field and Cohen's kappa per annotator pair and field.

    Parameters
    ----------
    ratings : iterable of 4-tuples or mappings
        A long table: ``(item, annotator, field, label)``. One annotator gives
        at most one label per item and field.

    Returns
    -------
    dict
        ``{"annotators": [...], "fields": {field: {"alpha", "items", "annotators",
        "note"}}, "pairs": [{"field", "a", "b", "kappa", "items", "note"}]}``.
        ``items`` is the number of items behind each figure.

    Raises
    ------
    InputError
        On a malformed row or an annotator rating the same item and field twice.

    Examples
    --------
    >>> rows = [("c1", "ann", "category", "btr"), ("c1", "bo", "category", "btr"),
    ...         ("c2", "ann", "category", "btr"), ("c2", "bo", "category", "dismissal")]
    >>> agreement(rows)["pairs"][0]["items"]
    2
    """
    table: dict[str, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    for index, row in enumerate(ratings):
        item, annotator, field, label = _as_tuple(row, index)
        seen = table[field][item]
        if annotator in seen:
            raise InputError(
                f"rating {index}: {annotator!r} rated {field!r} of item {item!r} twice "
                f"({seen[annotator]!r} and {label!r}); keep one rating per annotator"
            )
        seen[annotator] = label
    annotators = sorted({a for by_item in table.values() for r in by_item.values() for a in r})
    fields: dict[str, Any] = {}
    pairs: list[dict[str, Any]] = []
    for field in sorted(table, key=_field_order):
        by_item = table[field]
        alpha, n_items, note = _alpha(by_item)
        fields[field] = {
            "alpha": alpha,
            "items": n_items,
            "annotators": len({a for r in by_item.values() for a in r}),
            "note": note,
        }
        for a, b in combinations(annotators, 2):
            both = [(r[a], r[b]) for r in by_item.values() if a in r and b in r]
            if not both:
                continue
            kappa, note = _kappa([x for x, _ in both], [y for _, y in both])
            pairs.append({"field": field, "a": a, "b": b, "kappa": kappa, "items": len(both), "note": note})
    return {"annotators": annotators, "fields": fields, "pairs": pairs}


def _field_order(field: str) -> tuple[int, str]:
    heads = list(HEADS)
    return (heads.index(field) if field in heads else len(heads), field)


def corpus_agreement(cases: Iterable[Case], *, fields: Sequence[str] = tuple(HEADS)) -> dict[str, Any]:
    """Agreement of the corpus's double annotation: each case's own labels against its blind annotations.

    The case's own labels count as the annotator :data:`PRIMARY`; each blind
    :class:`~btr.schema.Annotation` in ``case.curation.annotations`` counts as
    its annotator. Cases with no blind annotation add nothing.

    Parameters
    ----------
    cases : iterable of Case
    fields : sequence of str
        The heads compared (default: all of :data:`btr.schema.HEADS`).

    Returns
    -------
    dict
        As :func:`agreement`, plus ``"cases"``: the number of double-annotated cases.
    """
    rows: list[tuple[str, str, str, str]] = []
    n_cases = 0
    for case in cases:
        blind = [a for a in case.curation.annotations if a.blind and a.annotator != PRIMARY]
        if not blind:
            continue
        n_cases += 1
        for field in fields:
            rows.append((case.id, PRIMARY, field, case.head(field)))
            for annotation in blind:
                value = getattr(annotation, field)
                if value is not None:  # a head added after this annotation was made
                    rows.append((case.id, annotation.annotator, field, str(value.value)))
    report = agreement(rows)
    report["cases"] = n_cases
    return report


def _fmt(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:6.3f}"


def format_agreement(report: Mapping[str, Any]) -> str:
    """Render an :func:`agreement` report as two plain-text tables."""
    lines = [f"{'field':<16}{'alpha':>7}{'items':>7}{'annotators':>12}  note"]
    for field, row in report["fields"].items():
        lines.append(
            f"{field:<16}{_fmt(row['alpha']):>7}{row['items']:>7}{row['annotators']:>12}  {row['note']}"
        )
    lines += ["", f"{'field':<16}{'annotator pair':<40}{'kappa':>7}{'items':>7}  note"]
    for row in report["pairs"]:
        pair = f"{row['a']} / {row['b']}"
        lines.append(f"{row['field']:<16}{pair:<40}{_fmt(row['kappa']):>7}{row['items']:>7}  {row['note']}")
    return "\n".join(lines)
