"""The pull's three-way merge and adjudication, as pure functions: every branch, no server."""

from __future__ import annotations

from btr.labelstudio.adjudication import decide
from btr.labelstudio.merge import merge_annotations, merge_notes, merge_values, next_base


def _record(category: str = "btr", trigger: str = "safety_accident") -> dict:
    return {"category": category, "trigger": trigger, "curation": {"annotations": [], "notes": ""}}


def test_equal_values_change_nothing():
    record, base, conflicts = merge_values(_record(), {"category": "btr"}, {"category": "btr"})
    assert record == _record() and conflicts == [] and base == {"category": "btr"}


def test_only_the_annotation_changed_takes_it():
    record, _, conflicts = merge_values(_record(), {"category": "dismissal"}, {"category": "btr"})
    assert record["category"] == "dismissal" and conflicts == []


def test_a_local_edit_after_the_last_pull_is_kept():
    # base == remote: the annotation was merged before; the curator changed it since
    local = _record(category="no_resignation")
    record, _, conflicts = merge_values(local, {"category": "btr"}, {"category": "btr"})
    assert record["category"] == "no_resignation" and conflicts == []


def test_both_changed_is_a_conflict_and_the_local_value_stays():
    local = _record(category="no_resignation")
    record, base, conflicts = merge_values(local, {"category": "dismissal"}, {"category": "btr"})
    assert record["category"] == "no_resignation"
    assert conflicts == [
        {
            "kind": "local_edit",
            "field": "category",
            "local": "no_resignation",
            "remote": "dismissal",
            "base": "btr",
        }
    ]
    assert base["category"] == "dismissal"  # reported once, not at every pull


def test_no_base_and_a_different_value_is_a_conflict():
    record, _, conflicts = merge_values(_record(), {"category": "dismissal"}, {})
    assert record["category"] == "btr" and [c["field"] for c in conflicts] == ["category"]


def test_an_undecided_field_is_left_alone_and_the_input_is_not_modified():
    local = _record()
    record, _, conflicts = merge_values(local, {"category": None, "trigger": ""}, {})
    assert record == local and conflicts == [] and record is not local


def test_a_missing_nested_field_is_created():
    local = {"category": "btr", "curation": {"annotations": [], "notes": ""}}
    record, _, conflicts = merge_values(local, {"trigger": "public_health"}, {"trigger": None})
    assert record["trigger"] == "public_health" and conflicts == []


def test_next_base_remembers_a_reported_remote_value():
    record = _record(category="no_resignation")
    base = next_base(record, {"category": "dismissal", "trigger": "safety_accident"})
    assert base["category"] == "dismissal" and base["trigger"] == "safety_accident"
    assert next_base(_record(), {"category": "btr"})["category"] == "btr"


def test_annotations_merge_keeps_curation_and_replaces_the_same_annotator():
    old = [
        {"annotator": "curator", "origin": "curation", "category": "btr"},
        {"annotator": "ann1", "origin": "label_studio", "category": "btr"},
        {"annotator": "ann2", "origin": "label_studio", "category": "btr"},
    ]
    fresh = [{"annotator": "ann1", "origin": "label_studio", "category": "dismissal"}]
    merged = merge_annotations(old, fresh)
    assert [(a["annotator"], a["category"]) for a in merged] == [
        ("curator", "btr"),
        ("ann2", "btr"),
        ("ann1", "dismissal"),
    ]


def test_notes_are_appended_once():
    assert merge_notes("", ["a: x"]) == "a: x"
    assert merge_notes("a: x", ["a: x", "b: y"]) == "a: x\nb: y"


def _ann(values: dict, *, star: bool = False, stamp: int = 0) -> dict:
    return {"values": values, "ground_truth": star, "_stamp": stamp}


def test_decide_majority_ground_truth_and_disagreement():
    latest = {
        "a": _ann({"category": "btr"}),
        "b": _ann({"category": "btr"}),
        "c": _ann({"category": "dismissal"}),
    }
    decided, disagreements = decide(latest, {"kind": "case"})
    assert decided == {"category": "btr"} and disagreements == {}
    tie = {"a": _ann({"category": "btr"}), "b": _ann({"category": "dismissal"})}
    decided, disagreements = decide(tie, {"kind": "case"})
    assert "category" not in decided and disagreements == {"category": {"a": "btr", "b": "dismissal"}}
    starred = {"a": _ann({"category": "btr"}), "b": _ann({"category": "dismissal"}, star=True)}
    assert decide(starred, {"kind": "case"})[0] == {"category": "dismissal"}
