"""Agreement figures against values computed by hand (and Krippendorff's own worked example)."""

from __future__ import annotations

import math

import pytest

from btr.agreement import PRIMARY, agreement, corpus_agreement, format_agreement
from btr.errors import InputError
from btr.schema import Case
from tests.conftest import make_record

# Two annotators, four items. Coincidences: (a,a) x2, (a,b) x1, (b,a) x1, (b,b) x4; n = 8, n_a = 3, n_b = 5.
# D_o = 2/8, D_e = 2 * 3 * 5 / (8 * 7) = 30/56, alpha = 1 - (2/8) / (30/56) = 8/15.
# Kappa: p_o = 3/4, p_e = 0.5 * 0.25 + 0.5 * 0.75 = 0.5, kappa = (0.75 - 0.5) / 0.5 = 0.5.
TWO_BY_FOUR = [
    ("c1", "ann", "category", "btr"),
    ("c2", "ann", "category", "btr"),
    ("c3", "ann", "category", "dismissal"),
    ("c4", "ann", "category", "dismissal"),
    ("c1", "bo", "category", "btr"),
    ("c2", "bo", "category", "dismissal"),
    ("c3", "bo", "category", "dismissal"),
    ("c4", "bo", "category", "dismissal"),
]


def test_alpha_and_kappa_match_hand_computation():
    report = agreement(TWO_BY_FOUR)
    field = report["fields"]["category"]
    assert field["alpha"] == pytest.approx(8 / 15)
    assert field["items"] == 4
    assert field["annotators"] == 2
    [pair] = report["pairs"]
    assert (pair["a"], pair["b"], pair["field"]) == ("ann", "bo", "category")
    assert pair["kappa"] == pytest.approx(0.5)
    assert pair["items"] == 4


def test_krippendorff_worked_example_with_missing_values():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal data: alpha = 0.743.
    coders = {
        "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    }
    rows = [
        (f"u{j}", coder, "trigger", str(value))
        for coder, values in coders.items()
        for j, value in enumerate(values)
        if value is not None
    ]
    field = agreement(rows)["fields"]["trigger"]
    assert round(field["alpha"], 3) == 0.743
    # Unit 12 has a single rating and cannot take part.
    assert field["items"] == 11


def test_items_with_one_rating_are_not_counted_and_pairs_count_shared_items():
    rows = [*TWO_BY_FOUR, ("c5", "ann", "category", "btr"), ("c6", "cy", "category", "btr")]
    report = agreement(rows)
    assert report["fields"]["category"]["items"] == 4
    assert report["fields"]["category"]["alpha"] == pytest.approx(8 / 15)
    assert [(p["a"], p["b"]) for p in report["pairs"]] == [("ann", "bo")]


def test_identical_single_label_is_undefined_not_a_number():
    rows = [(f"c{i}", who, "initiation", "pressured") for i in range(3) for who in ("ann", "bo")]
    report = agreement(rows)
    assert report["fields"]["initiation"]["alpha"] is None
    assert "undefined" in report["fields"]["initiation"]["note"]
    assert report["pairs"][0]["kappa"] is None
    assert report["pairs"][0]["items"] == 3


def test_perfect_agreement_is_one():
    rows = [
        (f"c{i}", who, "category", label)
        for i, label in enumerate(["btr", "dismissal", "btr"])
        for who in "xy"
    ]
    report = agreement(rows)
    assert report["fields"]["category"]["alpha"] == pytest.approx(1.0)
    assert report["pairs"][0]["kappa"] == pytest.approx(1.0)


def test_mappings_are_accepted_and_fields_are_separate():
    rows = [{"item": i, "annotator": a, "field": f, "label": v} for i, a, f, v in TWO_BY_FOUR]
    rows += [{"item": "c1", "annotator": "ann", "field": "trigger", "label": "none"}]
    report = agreement(rows)
    assert report["fields"]["trigger"]["items"] == 0
    assert report["fields"]["trigger"]["alpha"] is None
    assert report["fields"]["category"]["alpha"] == pytest.approx(8 / 15)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("c1", "ann", "category")], "expected 4 values"),
        ([{"item": "c1", "annotator": "ann", "label": "btr"}], "missing column 'field'"),
        ([("c1", "ann", "category", "")], "empty value"),
        (
            [("c1", "ann", "category", "btr"), ("c1", "ann", "category", "dismissal")],
            "rated 'category' of item 'c1' twice",
        ),
    ],
)
def test_bad_rows_raise_clear_errors(rows, message):
    with pytest.raises(InputError, match=message):
        agreement(rows)


def _case(record: dict, cid: str, category: str, annotations: list[dict]) -> Case:
    return Case.model_validate(
        make_record(record, id=cid, category=category, **{"curation.annotations": annotations})
    )


def _annotation(annotator: str, category: str, *, blind: bool = True) -> dict:
    return {
        "annotator": annotator,
        "category": category,
        "trigger": "food_drug_safety",
        "responsibility": "supervisory",
        "initiation": "pressured",
        "origin": "curation",
        "blind": blind,
    }


def test_corpus_agreement_compares_primary_labels_with_blind_annotations(good_record):
    # primary: btr, btr, dismissal; bo (blind): btr, dismissal, dismissal.
    # kappa: p_o = 2/3, p_e = 2/3 * 1/3 + 1/3 * 2/3 = 4/9, kappa = (2/9) / (5/9) = 0.4.
    # alpha: coincidences (b,b) 2, (b,d) 1, (d,b) 1, (d,d) 2; D_o = 2/6, D_e = 2*3*3/30 = 0.6; alpha = 4/9.
    cases = [
        _case(good_record, "xx-1", "btr", [_annotation("bo", "btr")]),
        _case(
            good_record,
            "xx-2",
            "btr",
            [_annotation("bo", "dismissal"), _annotation("cy", "btr", blind=False)],
        ),
        _case(good_record, "xx-3", "dismissal", [_annotation("bo", "dismissal")]),
        _case(good_record, "xx-4", "btr", []),
    ]
    report = corpus_agreement(cases)
    assert report["cases"] == 3
    assert report["annotators"] == ["bo", PRIMARY]
    category = report["fields"]["category"]
    assert category["alpha"] == pytest.approx(4 / 9)
    assert category["items"] == 3
    kappa = next(p for p in report["pairs"] if p["field"] == "category")
    assert kappa["kappa"] == pytest.approx(0.4)
    assert kappa["items"] == 3
    # The other heads agree everywhere on a single label: undefined, not 1 and not NaN.
    assert report["fields"]["trigger"]["alpha"] is None
    assert not any(isinstance(p["kappa"], float) and math.isnan(p["kappa"]) for p in report["pairs"])


def test_format_agreement_lists_every_field_and_pair():
    text = format_agreement(agreement(TWO_BY_FOUR))
    assert "category" in text
    assert "ann / bo" in text
    assert "0.533" in text and "0.500" in text
