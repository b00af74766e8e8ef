import json

import pytest

from btr.analysis import analyse
from btr.gaps import CANNOT_ASSESS, FLAG, NOT_APPLICABLE, OK, RULES, assess, assess_case, summarise
from btr.schema import Case
from tests.conftest import make_record

RULE = {rule.id: rule for rule in RULES}


@pytest.fixture
def cn_case(good_record):
    """Build a Chinese blame-taking resignation with the facts a test names."""

    def build(
        *,
        left="2008-09-14",
        returned=None,
        level="same",
        disclosed="unknown",
        status=None,
        post="山西省省长",
        accepting="party_committee",
        reason="stated",
        before="no",
        legal="no",
        event="2008-09-08",
        category="btr",
        country="CN",
    ):
        posts = (
            []
            if returned is None
            else [{"date": returned, "post_en": "New post", "level_change": level, "disclosed": disclosed}]
        )
        record = make_record(
            good_record,
            category=category,
            exit_status="refused" if category == "no_resignation" else "occurred",
            country=country,
            **{
                "official.post": post,
                "event.date": event,
                "procedure.announced": left,
                "procedure.effective": left,
                "procedure.accepting_body": accepting,
                "procedure.reason_stated": reason,
                "procedure.investigation_before": before,
                "followup": {
                    "status": status or ("reappointed" if returned else "not_reappointed"),
                    "posts": posts,
                    "legal_followup": legal,
                },
            },
        )
        return Case.model_validate(record)

    return build


def status(case, rule_id, **options):
    (finding,) = [f for f in assess_case(case, rules=[RULE[rule_id]], **options)]
    return finding.status


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        ("2009-09-13", FLAG),  # day 364
        ("2009-09-14", OK),  # the anniversary: one full year
        ("2009-09-15", OK),  # day 366
        ("2009-09", CANNOT_ASSESS),  # the month straddles the anniversary
        ("2009-08", FLAG),  # every day of August 2009 is within the year
        ("2009-10", OK),
        ("2009", CANNOT_ASSESS),
    ],
)
def test_one_year_boundary_2009_rule(cn_case, returned, expected):
    assert status(cn_case(returned=returned, level="same"), "cn_equivalent_within_1y_2009") == expected


@pytest.mark.parametrize(("left", "returned"), [("2008-09", "2009-09"), ("2008-09-14", "2009-09")])
def test_partial_dates_never_give_a_false_answer(cn_case, left, returned):
    assert status(cn_case(left=left, returned=returned), "cn_equivalent_within_1y_2009") == CANNOT_ASSESS


def test_partial_months_far_apart_are_decided(cn_case):
    # Every day of August 2009 is less than a year after every day of September 2008.
    assert status(cn_case(left="2008-09", returned="2009-08"), "cn_equivalent_within_1y_2009") == FLAG
    assert status(cn_case(left="2008-09", returned="2009-10"), "cn_equivalent_within_1y_2009") == OK
    assert status(cn_case(left="2008", returned="2009-06"), "cn_equivalent_within_1y_2009") == CANNOT_ASSESS


@pytest.mark.parametrize(
    ("returned", "rule_2002", "rule_2009"),
    [
        ("2009-06-29", FLAG, NOT_APPLICABLE),  # the day before the 2009 provisions
        ("2009-06-30", FLAG, FLAG),  # the day they took effect: both in force
    ],
)
def test_return_judged_by_rule_in_force_on_its_day(cn_case, returned, rule_2002, rule_2009):
    case = cn_case(left="2008-09-14", returned=returned, level="same")
    assert status(case, "cn_return_within_1y_2002") == rule_2002
    assert status(case, "cn_equivalent_within_1y_2009") == rule_2009


def test_2002_rule_starts_on_its_day(cn_case):
    assert (
        status(cn_case(left="2002-01-10", event=None, returned="2002-07-08"), "cn_return_within_1y_2002")
        == NOT_APPLICABLE
    )
    assert (
        status(cn_case(left="2002-01-10", event=None, returned="2002-07-09"), "cn_return_within_1y_2002")
        == FLAG
    )


@pytest.mark.parametrize(
    ("returned", "expected_2002", "expected_2014"),
    [
        ("2013-12-20", FLAG, NOT_APPLICABLE),
        (
            "2014-01-20",
            CANNOT_ASSESS,
            CANNOT_ASSESS,
        ),  # the 2014 regulation's day of issue is only known to the month
        ("2014-02-03", NOT_APPLICABLE, FLAG),
    ],
)
def test_2014_regulation_boundary_known_to_the_month(cn_case, returned, expected_2002, expected_2014):
    case = cn_case(left="2013-06-01", event=None, returned=returned, level="lower")
    level_same = cn_case(left="2013-06-01", event=None, returned=returned, level="same")
    assert status(level_same, "cn_return_within_1y_2002") == expected_2002
    assert status(case, "cn_return_within_1y_2014") == expected_2014


def test_lower_post_within_a_year(cn_case):
    # 2002 and 2009 rules restrict equivalent posts only; 2014 forbids any post; 2019 any leadership post.
    assert (
        status(cn_case(left="2008-09-14", returned="2009-08", level="lower"), "cn_equivalent_within_1y_2009")
        == OK
    )
    assert (
        status(
            cn_case(left="2015-01-10", event=None, returned="2015-06-01", level="lower"),
            "cn_return_within_1y_2014",
        )
        == FLAG
    )
    assert (
        status(
            cn_case(left="2020-01-10", event=None, returned="2020-06-01", level="lower"),
            "cn_return_within_1y_2019",
        )
        == CANNOT_ASSESS
    )
    assert (
        status(
            cn_case(left="2020-01-10", event=None, returned="2020-06-01", level="same"),
            "cn_return_within_1y_2019",
        )
        == FLAG
    )


@pytest.mark.parametrize(
    ("returned", "level", "expected"),
    [
        ("2016-05-31", "higher", FLAG),
        ("2016-06-01", "higher", OK),
        ("2015-01", "same", OK),
        ("2015-01", "unknown", CANNOT_ASSESS),
    ],
)
def test_higher_post_within_two_years(cn_case, returned, level, expected):
    assert (
        status(cn_case(left="2014-06-01", event=None, returned=returned, level=level), "cn_higher_within_2y")
        == expected
    )


def test_unknown_facts_give_cannot_assess_never_a_flag_or_all_clear(cn_case):
    unknown_followup = cn_case(status="unknown")
    unknown_level = cn_case(returned="2009-08", level="unknown")
    for rule_id in ("cn_equivalent_within_1y_2009", "cn_return_within_1y_2002", "cn_return_not_disclosed"):
        assert status(unknown_followup, rule_id) == CANNOT_ASSESS
    assert status(unknown_level, "cn_equivalent_within_1y_2009") == CANNOT_ASSESS
    no_date = cn_case(left=None, returned="2009-08")
    assert status(no_date, "cn_equivalent_within_1y_2009") == CANNOT_ASSESS


@pytest.mark.parametrize(
    ("post", "accepting", "expected"),
    [
        ("山西省省长", "party_committee", FLAG),
        ("山西省省长", "legislature_standing_committee", OK),
        ("北京市市长", "unknown", CANNOT_ASSESS),
        ("密云县县长", "legislature", OK),
        ("石家庄市委书记", "party_committee", NOT_APPLICABLE),
        ("国家质检总局局长", "head_of_government", NOT_APPLICABLE),
        ("吉林省副省长", "head_of_government", FLAG),
    ],
)
def test_elected_post_needs_congress_acceptance(cn_case, post, accepting, expected):
    assert (
        status(cn_case(post=post, accepting=accepting), "cn_elected_post_not_accepted_by_congress")
        == expected
    )


def test_elected_post_rule_starts_2004(cn_case):
    case = cn_case(left="2003-04-22", event="2003-04", post="北京市市长", accepting="party_committee")
    assert status(case, "cn_elected_post_not_accepted_by_congress") == NOT_APPLICABLE


@pytest.mark.parametrize(
    ("reason", "expected"), [("stated", OK), ("euphemism", FLAG), ("none", FLAG), ("unknown", CANNOT_ASSESS)]
)
def test_no_stated_reason(cn_case, reason, expected):
    assert status(cn_case(reason=reason), "cn_no_stated_reason") == expected


@pytest.mark.parametrize(
    ("before", "legal", "expected"),
    [
        ("no", "no", FLAG),
        ("yes", "no", OK),
        ("no", "yes", OK),
        ("no", "unknown", CANNOT_ASSESS),
        ("unknown", "no", CANNOT_ASSESS),
    ],
)
def test_resignation_instead_of_investigation(cn_case, before, legal, expected):
    case = cn_case(left="2010-05-01", event="2010-04-20", before=before, legal=legal)
    assert status(case, "cn_resignation_instead_of_investigation") == expected


@pytest.mark.parametrize(("disclosed", "expected"), [("no", FLAG), ("yes", OK), ("unknown", CANNOT_ASSESS)])
def test_undisclosed_return(cn_case, disclosed, expected):
    assert status(cn_case(returned="2010-01", disclosed=disclosed), "cn_return_not_disclosed") == expected


@pytest.mark.parametrize(
    ("event", "left", "delay", "expected"),
    [
        ("2008-09-08", "2008-11-07", 60, OK),  # day 60
        ("2008-09-08", "2008-11-08", 60, FLAG),  # day 61
        ("2008-09", "2008-11-08", 60, CANNOT_ASSESS),
        ("2008-09-08", "2008-11-08", 90, OK),
        (None, "2008-11-08", 60, CANNOT_ASSESS),
    ],
)
def test_long_delay_threshold_configurable(cn_case, event, left, delay, expected):
    assert status(cn_case(event=event, left=left), "long_delay", delay_days=delay) == expected


def test_chinese_rules_do_not_judge_foreign_cases(cn_case):
    foreign = cn_case(country="JP", returned="2009-03", reason="none")
    findings = {f.rule: f.status for f in assess_case(foreign)}
    assert all(findings[r.id] == NOT_APPLICABLE for r in RULES if r.jurisdiction == "CN")
    assert findings["long_delay"] == OK


def test_contrast_cases_are_not_judged_as_resignations(cn_case):
    stayed = cn_case(category="no_resignation", status="not_applicable", reason="none")
    assert {f.status for f in assess_case(stayed) if f.rule != "long_delay"} == {NOT_APPLICABLE}


def test_rules_are_data_with_sources():
    for rule in RULES:
        data = rule.to_json()
        assert data["source"] and data["description"] and data["jurisdiction"]
    assert len({r.id for r in RULES}) == len(RULES)


def test_assess_and_summary_shapes(cn_case):
    rows = assess(
        [
            cn_case(returned="2009-03", disclosed="no"),
            cn_case(),
            cn_case(returned="2009-03", disclosed="yes"),
            cn_case(returned="2009-03", disclosed="unknown"),
            cn_case(country="JP"),
        ]
    )
    assert rows[0]["flags"] and "cn_return_not_disclosed" in rows[0]["flags"]
    assert all(f["source"] for f in rows[0]["findings"])
    table = summarise(rows)
    # flag: not disclosed; ok: disclosed; cannot assess: unknown; not applicable: no return, not CN
    assert table["cn_return_not_disclosed"] == {FLAG: 1, OK: 1, CANNOT_ASSESS: 1, NOT_APPLICABLE: 2}


def test_analyse_on_the_checked_in_corpus(corpus_path, tmp_path):
    result = analyse(corpus_path, report=tmp_path / "r.html")
    assert len(result["cases"]) >= 40
    assert (tmp_path / "r.html").stat().st_size > 10_000
    # each count read back from the raw records, not from the rules' own output
    raw = {r["id"]: r for r in map(json.loads, corpus_path.read_text(encoding="utf-8").splitlines())}
    foreign = sum(r["country"] != "CN" for r in raw.values())
    for rule, counts in result["summary"].items():
        if rule.startswith("cn_"):
            assert counts[NOT_APPLICABLE] >= foreign, rule
    flagged = [row["id"] for row in result["cases"] if "cn_no_stated_reason" in row["flags"]]
    assert flagged and len(flagged) == result["summary"]["cn_no_stated_reason"][FLAG]
    for cid in flagged:
        record = raw[cid]
        assert record["country"] == "CN" and record["category"] in ("btr", "dismissal"), cid
        assert record["procedure"]["reason_stated"] in ("none", "euphemism"), cid


def test_rules_and_survival_curves_agree_on_who_returned(corpus_path):
    """One answer from btr.facts: a case with a recorded later post returned, for both."""
    import datetime as dt

    from btr.corpus import load_cases
    from btr.facts import returned
    from btr.report import kaplan_meier_data

    cases = {c.id: c for c in load_cases(corpus_path)}
    bi = cases["cn-2018-bi-jingquan-changsheng"]  # later posts recorded (undated), then prosecuted
    assert returned(bi) is True
    flagged = {f.rule: f.status for f in assess_case(bi)}
    assert flagged["cn_return_not_disclosed"] == FLAG
    alone = kaplan_meier_data([bi], as_of=dt.date(2026, 1, 1))
    # a return with no date is left out of the curve, never counted as "never returned"
    assert alone["left_out"] == {"returned, no date": 1}
    assert all(not g["t"] for g in alone["groups"].values())
    for case in cases.values():
        if returned(case) is True and any(f.status == FLAG for f in assess_case(case) if "return" in f.rule):
            data = kaplan_meier_data([case], as_of=dt.date(2026, 1, 1))
            assert sum(data["groups"][g]["e"].count(0) for g in data["groups"]) == 0, case.id
