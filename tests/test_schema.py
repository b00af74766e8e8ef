import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from btr.schema import CATEGORY_EXIT_STATUSES, HEADS, TEXT_LANGUAGES, Case, Category, PartialDate, label_names
from tests.conftest import DATA


@pytest.mark.parametrize(
    ("text", "precision", "earliest", "latest"),
    [
        ("2008", "year", dt.date(2008, 1, 1), dt.date(2008, 12, 31)),
        ("2008-02", "month", dt.date(2008, 2, 1), dt.date(2008, 2, 29)),
        ("2009-12", "month", dt.date(2009, 12, 1), dt.date(2009, 12, 31)),
        ("2008-09-14", "day", dt.date(2008, 9, 14), dt.date(2008, 9, 14)),
    ],
)
def test_partial_date_bounds(text, precision, earliest, latest):
    date = PartialDate(text)
    assert (date.precision, date.earliest, date.latest, str(date)) == (precision, earliest, latest, text)


@pytest.mark.parametrize("bad", ["2008-13", "2008-02-30", "08-09-14", "2008/09/14", "", "2008-9"])
def test_partial_date_rejects(bad):
    with pytest.raises(ValueError, match=r"date|month|day"):
        PartialDate(bad)


def test_partial_dates_compare_by_interval():
    month, day = PartialDate("2008-09"), PartialDate("2008-09-14")
    assert month < day < PartialDate("2008-10")
    assert not month.certainly_before(day) and not day.certainly_after(month)
    assert PartialDate("2008-08-31").certainly_before(month)
    assert PartialDate("2008-09").days_until(PartialDate("2009-09")) == (336, 395 - 1)
    assert sorted([PartialDate("2008-09-14"), PartialDate("2008"), PartialDate("2008-09")]) == [
        PartialDate("2008"),
        PartialDate("2008-09"),
        PartialDate("2008-09-14"),
    ]


def test_label_sets_declared_once_and_heads_derive_from_them():
    assert label_names(HEADS["category"]) == [c.value for c in Category]
    assert set(HEADS) == {"category", "trigger", "responsibility", "initiation", "exit_status"}
    for labels in HEADS.values():
        assert all(member.hint for member in labels), labels


def test_good_record_validates(good_record):
    case = Case.model_validate(good_record)
    assert case.head("category") == "btr"
    assert case.followup.posts[0].date == PartialDate("2009-12")


def test_serialisation_keeps_key_order_and_nulls(good_record):
    dumped = Case.model_validate(good_record).to_json()
    assert list(dumped) == list(Case.model_fields)
    assert dumped["event"]["deaths"] is None
    assert dumped["procedure"]["announced"] == "2008-09-22"


date_text = st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2030, 12, 31)).flatmap(
    lambda d: st.sampled_from([f"{d.year:04d}", f"{d.year:04d}-{d.month:02d}", d.isoformat()])
)


@settings(max_examples=60, deadline=None)
@given(
    category=st.sampled_from(label_names(Category)),
    event_date=st.one_of(st.none(), date_text),
    deaths=st.one_of(st.none(), st.integers(min_value=0, max_value=5000)),
    zh=st.text(min_size=1, max_size=40).filter(str.strip),
    notes=st.text(max_size=40),
)
def test_record_json_record_round_trip(category, event_date, deaths, zh, notes):
    good_record = json.loads((DATA / "good_case.json").read_text(encoding="utf-8"))
    good_record["category"] = category
    good_record["exit_status"] = CATEGORY_EXIT_STATUSES[Category(category)][-1].value
    good_record["event"].update(date=event_date, deaths=deaths)
    good_record["procedure"].update(announced=None, effective=None)
    good_record["followup"] = {"status": "unknown", "posts": [], "legal_followup": "unknown"}
    good_record["text"]["zh"] = zh
    good_record["curation"]["notes"] = notes
    case = Case.model_validate(good_record)
    again = Case.model_validate(json.loads(json.dumps(case.to_json(), ensure_ascii=False)))
    assert again == case
    assert again.to_json() == case.to_json()


def test_posts_require_a_return_status(good_record):
    good_record["followup"]["status"] = "not_reappointed"
    with pytest.raises(ValidationError, match="posts are listed"):
        Case.model_validate(good_record)


def test_exit_status_follows_the_category(good_record):
    assert Case.model_validate(good_record).exit_status.value == "occurred"  # derived: btr allows one
    stayed = dict(good_record, category="no_resignation")
    with pytest.raises(ValidationError, match="needs an exit_status"):
        Case.model_validate(stayed)
    assert Case.model_validate(dict(stayed, exit_status="refused")).exit_status.value == "refused"
    with pytest.raises(ValidationError, match="does not fit category 'btr'"):
        Case.model_validate(dict(good_record, exit_status="demanded"))


def test_texts_in_the_languages_of_the_schema_and_only_those(good_record):
    assert TEXT_LANGUAGES[:2] == ("zh", "en") and {"ja", "ko", "de", "fr", "es", "ru", "nl"} <= set(
        TEXT_LANGUAGES
    )
    record = json.loads(json.dumps(good_record))
    record["text"]["ja"] = "知事が辞任した。"
    case = Case.model_validate(record)
    assert [lang for lang, _ in case.text.items()] == ["zh", "en", "ja"]
    assert "ko" not in case.to_json()["text"]  # absent languages are not written as nulls
    record["text"]["xx"] = "?"
    with pytest.raises(ValidationError, match=r"text\.xx"):
        Case.model_validate(record)
