import json
from collections import Counter

import pytest

from btr.corpus import (
    export,
    features,
    load_cases,
    load_dataset,
    split_cases,
    stats,
    stats_markdown,
    validate,
    write_cases,
)
from btr.errors import DataError, InputError
from btr.schema import HEADS, Case, label_names
from tests.conftest import make_record


def _write_lines(path, lines):
    path.write_bytes(
        b"".join(line if isinstance(line, bytes) else line.encode("utf-8") + b"\n" for line in lines)
    )
    return path


def _line(record):
    return json.dumps(record, ensure_ascii=False)


# Each bad record is written as line 2, after one good record, so the line number is checked too.
BAD_INPUTS = {
    "wrong enum": ({"category": "resigned"}, "category", "not one of"),
    "wrong nested enum": (
        {"procedure.accepting_body": "parliament"},
        "procedure.accepting_body",
        "not one of",
    ),
    "bad date": ({"procedure.announced": "2008-02-30"}, "procedure.announced", "day is out of range"),
    "imprecise date format": ({"event.date": "Sept 2008"}, "event.date", "YYYY"),
    "dates out of order": ({"procedure.effective": "2008-09-01"}, "<record>", "dates out of order"),
    "return before resignation": (
        {"followup.posts": [{"date": "2007", "post_en": "Adviser"}]},
        "<record>",
        "followup.posts.0.date",
    ),
    "missing source url": ({"sources": [{"publisher": "Xinhua"}]}, "sources.0.url", "Field required"),
    "source url not a url": ({"sources": [{"url": "not a url", "publisher": "X"}]}, "sources.0.url", "URL"),
    "no sources": ({"sources": []}, "sources", "at least 1"),
    "extra field": ({"mood": "sad"}, "mood", "unknown field"),
    "nested extra field": ({"official.age": 60}, "official.age", "unknown field"),
    "bad country": ({"country": "XX"}, "country", "ISO 3166"),
    "lowercase country": ({"country": "cn"}, "country", "ISO 3166"),
    "negative deaths": ({"event.deaths": -3}, "event.deaths", "greater than or equal"),
    "bad id": ({"id": "CN 2008 Li"}, "id", "pattern"),
    "empty text": ({"text.en": ""}, "text.en", "at least 1"),
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_record_named_by_file_line_and_field(tmp_path, good_record, kind):
    changes, field, message = BAD_INPUTS[kind]
    second = make_record(good_record, id="cn-2008-second")
    for dotted, value in changes.items():
        second = make_record(second, **{dotted: value})
    path = _write_lines(tmp_path / "cases.jsonl", [_line(good_record), _line(second)])
    problems = validate(path)
    assert problems, kind
    assert all(p.file == str(path) and p.line == 2 for p in problems)
    assert any(p.field == field and message in p.message for p in problems), [str(p) for p in problems]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"id": "cn-1", ', "malformed JSON"),
        (b"[1, 2, 3]", "expected a JSON object"),
        (b'{"id": "caf\xe9"}', "not UTF-8: byte 0xe9"),
        (b'{"id": "\xff\xfe"}', "not UTF-8: byte 0xff"),
    ],
)
def test_unreadable_lines_are_reported_not_raised(tmp_path, good_record, raw, message):
    path = _write_lines(
        tmp_path / "cases.jsonl", [_line(good_record), raw + b"\n", _line(make_record(good_record, id="z-1"))]
    )
    problems = validate(path)
    assert [(p.line, message in p.message) for p in problems] == [(2, True)]


def test_duplicate_id_names_both_lines(tmp_path, good_record):
    path = _write_lines(tmp_path / "c.jsonl", [_line(good_record), "", _line(good_record)])
    (problem,) = validate(path)
    assert (problem.line, problem.field) == (3, "id")
    assert "first on line 1" in problem.message


def test_load_cases_raises_with_every_problem(tmp_path, good_record):
    path = _write_lines(tmp_path / "c.jsonl", ["{bad", _line(make_record(good_record, category="x"))])
    with pytest.raises(DataError, match=r"2 problem\(s\)") as info:
        load_cases(path)
    assert [p.line for p in info.value.problems] == [1, 2]


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        validate(tmp_path / "nope.jsonl")


def test_utf8_bom_is_accepted(tmp_path, good_record):
    path = _write_lines(tmp_path / "c.jsonl", [b"\xef\xbb\xbf" + _line(good_record).encode()])
    assert validate(path) == []


def test_write_is_sorted_stable_and_round_trips(tmp_path, synthetic_cases):
    path = tmp_path / "out.jsonl"
    write_cases(reversed(synthetic_cases), path)
    first = path.read_bytes()
    ids = [json.loads(line)["id"] for line in first.decode().splitlines()]
    assert ids == sorted(ids)
    assert load_cases(path) == sorted(synthetic_cases, key=lambda c: c.id)
    write_cases(load_cases(path), path)
    assert path.read_bytes() == first
    assert "\\u" not in first.decode()  # Chinese stays readable in diffs


def test_failed_write_leaves_the_old_file_intact(tmp_path, synthetic_cases):
    path = tmp_path / "cases.jsonl"
    write_cases(synthetic_cases[:3], path)
    before = path.read_bytes()

    class Exploding:
        id = "zz-999"

        def to_json(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_cases([*synthetic_cases[3:6], Exploding()], path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["cases.jsonl"]


def test_write_gives_ordinary_file_permissions(tmp_path, synthetic_cases):
    import os

    umask = os.umask(0o022)
    try:
        path = write_cases(synthetic_cases[:2], tmp_path / "c.jsonl")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_write_refuses_duplicate_ids(tmp_path, synthetic_cases):
    with pytest.raises(DataError, match="duplicate id"):
        write_cases([synthetic_cases[0], synthetic_cases[0]], tmp_path / "c.jsonl")


def test_split_is_deterministic_grouped_and_covers_everything(synthetic_cases, seed):
    first = split_cases(synthetic_cases, seed=seed)
    again = split_cases(list(reversed(synthetic_cases)), seed=seed)
    assert {k: [c.id for c in v] for k, v in first.items()} == {
        k: [c.id for c in v] for k, v in again.items()
    }
    events = {name: {c.event_id for c in part} for name, part in first.items()}
    assert not events["train"] & events["test"]
    assert not events["train"] & events["validation"]
    assert not events["validation"] & events["test"]
    assert sorted(c.id for part in first.values() for c in part) == sorted(c.id for c in synthetic_cases)
    assert all(first[name] for name in ("train", "validation", "test"))
    other = split_cases(synthetic_cases, seed=seed + 1)
    assert [c.id for c in other["test"]] != [c.id for c in first["test"]]


def test_split_is_stratified(synthetic_cases, seed):
    parts = split_cases(synthetic_cases, seed=seed)
    assert set(Counter(c.category for c in parts["train"])) == {c.category for c in synthetic_cases}


def test_dataset_rows_features_and_languages(tmp_path, synthetic_cases, seed):
    path = write_cases(synthetic_cases, tmp_path / "c.jsonl")
    ds = load_dataset(path, seed=seed)
    assert sum(len(split) for split in ds.values()) == 2 * len(synthetic_cases)
    for head, labels in HEADS.items():
        assert ds["train"].features[head].names == label_names(labels)
    for split in ds.values():
        langs_by_id = Counter(split["id"])
        assert set(langs_by_id.values()) == {2}  # both languages of a case on the same side


@pytest.mark.parametrize("fmt", ["hf", "parquet", "csv", "jsonl"])
def test_export_round_trip(tmp_path, synthetic_cases, fmt):
    import datasets

    path = write_cases(synthetic_cases, tmp_path / "c.jsonl")
    out = tmp_path / "export"
    written = export(out, format=fmt, path=path)
    original = load_dataset(path)
    if fmt == "hf":
        reloaded = datasets.load_from_disk(str(out))
        assert reloaded["test"].features == features()
        assert reloaded["test"]["id"] == original["test"]["id"]
        return
    assert sorted(p.name for p in written) == sorted(f"{s}.{fmt}" for s in ("train", "validation", "test"))
    builder = {"csv": "csv", "jsonl": "json", "parquet": "parquet"}[fmt]
    reloaded = datasets.load_dataset(
        builder, data_files=str(out / f"test.{fmt}"), split="train", features=features()
    )
    assert reloaded.features["category"].names == label_names(HEADS["category"])
    assert reloaded["category"] == original["test"]["category"]
    assert reloaded["text"] == original["test"]["text"]
    if fmt in ("csv", "jsonl"):  # files people open carry label names, not ClassLabel codes
        raw = datasets.load_dataset(builder, data_files=str(out / f"test.{fmt}"), split="train")
        names = features()["category"].names
        assert raw["category"] == [names[i] for i in original["test"]["category"]]


def test_export_rejects_unknown_format(tmp_path, synthetic_cases):
    path = write_cases(synthetic_cases, tmp_path / "c.jsonl")
    with pytest.raises(InputError, match="unknown export format"):
        export(tmp_path / "x", format="xlsx", path=path)


def test_stats_counts(synthetic_cases):
    summary = stats(synthetic_cases)
    assert summary["cases"] == 60 and summary["events"] == 30
    assert sum(summary["by"]["category"].values()) == 60
    assert summary["verified_share"] == 1.0
    assert "| category | cases |" in stats_markdown(summary)


def test_checked_in_corpus_is_clean(corpus_path):
    assert validate(corpus_path) == []
    cases = load_cases(corpus_path)
    assert len(cases) >= 40
    # every category but `unrelated`, which belongs to news texts, never to a case
    assert {c.category.value for c in cases} == set(label_names(HEADS["category"])) - {"unrelated"}
    assert {c.country for c in cases} - {"CN"}, "foreign cases present"
    assert all(isinstance(c, Case) and c.sources for c in cases)


def test_checked_in_corpus_is_canonical(corpus_path, tmp_path):
    """The file on disk is exactly what write_cases produces: sorted, stable keys, one per line."""
    rewritten = write_cases(load_cases(corpus_path), tmp_path / "c.jsonl")
    assert rewritten.read_bytes() == corpus_path.read_bytes()


def test_checked_in_corpus_summaries_have_news_lead_length(corpus_path):
    """Curation policy (issue 3): text.en 60-200 words, text.zh 100-350 characters."""
    too_short_or_long = [
        (c.id, len(c.text.en.split()), len("".join(c.text.zh.split())))
        for c in load_cases(corpus_path)
        if not 60 <= len(c.text.en.split()) <= 200 or not 100 <= len("".join(c.text.zh.split())) <= 350
    ]
    assert too_short_or_long == []


def test_datasheet_tables_match_the_corpus(corpus_path):
    from pathlib import Path

    from btr.datasheet import render_datasheet

    sheet = Path(__file__).parents[1] / "corpus" / "DATASHEET.md"
    text = sheet.read_text(encoding="utf-8")
    assert render_datasheet(text, load_cases(corpus_path)) == text, "run `make datasheet`"


def test_double_annotation_is_blind_and_covers_the_floor(corpus_path):
    doubled = [c for c in load_cases(corpus_path) if any(a.blind for a in c.curation.annotations)]
    assert len(doubled) >= 80
    for case in doubled:
        annotators = {a.annotator for a in case.curation.annotations}
        # every blind pass sits beside the curator's labels (blind-2: 2026-11, blind-3: 2026-12)
        assert "curator" in annotators and annotators & {"blind-2", "blind-3"}
        assert all(a.blind for a in case.curation.annotations if a.annotator.startswith("blind-"))


def test_adjudicate_applies_notes_and_is_idempotent(tmp_path, synthetic_cases):
    from btr.corpus import adjudicate

    path = write_cases(synthetic_cases[:3], tmp_path / "c.jsonl")
    decisions = tmp_path / "d.json"
    decisions.write_text(
        json.dumps(
            {
                "date": "2026-01-02",
                "decisions": {
                    "xx-000": {
                        "initiation": "self_initiated",
                        "procedure.apology": "yes",
                        "rule": "D18",
                        "why": "source says so",
                    },
                    "xx-404": {"trigger": "other"},
                },
            }
        ),
        encoding="utf-8",
    )
    assert adjudicate(decisions, into=path) == {"changed": ["xx-000"], "unchanged": [], "missing": ["xx-404"]}
    case = {c.id: c for c in load_cases(path)}["xx-000"]
    assert case.initiation.value == "self_initiated" and case.procedure.apology.value == "yes"
    assert 'ADJUDICATED (lead, 2026-01-02): initiation "pressured" -> "self_initiated"' in case.curation.notes
    before = path.read_bytes()
    assert adjudicate(decisions, into=path)["unchanged"] == ["xx-000"]
    assert path.read_bytes() == before


def test_adjudicate_refuses_invalid_values(tmp_path, synthetic_cases):
    from btr.corpus import adjudicate

    path = write_cases(synthetic_cases[:2], tmp_path / "c.jsonl")
    before = path.read_bytes()
    decisions = tmp_path / "d.json"
    decisions.write_text(json.dumps({"decisions": {"xx-001": {"trigger": "earthquake"}}}), encoding="utf-8")
    with pytest.raises(DataError, match="nothing adjudicated") as info:
        adjudicate(decisions, into=path)
    assert info.value.problems[0].field == "xx-001.trigger"
    assert path.read_bytes() == before
