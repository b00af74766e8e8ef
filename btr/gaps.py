"""Procedural gaps: rules drawn from the regulations, judged case by case.

Each :class:`Rule` is data (id, jurisdiction, dates in force, source, description)
plus a predicate. A rule judges one act — the return to a post, the
resignation — by the rule in force on *that act's* date: a return in 2006 is
judged by the 2002 regulation, one in 2016 by the 2014 regulation.

Every finding has a status:

``flag``
    The facts show the gap.
``ok``
    The facts show the rule was met.
``cannot_assess``
    A fact the rule needs is missing, ``unknown`` or too imprecise (a
    partial date that straddles the boundary). Never a false flag and never
    a false all-clear.
``not_applicable``
    The rule does not govern this case (another country, no resignation,
    no return, the act predates the rule).

Sources are in ``../shared/research/regulations-and-cases.md`` §0-§1 of the
project's research notes and in ``annotate/guidelines.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from btr.facts import first_return, left_on
from btr.schema import (
    AcceptingBody,
    Case,
    Category,
    FollowupPost,
    LevelChange,
    PartialDate,
    ReasonStated,
    Trigger,
    YesNoUnknown,
)
from btr.settings import DEFAULT_DELAY_DAYS

__all__ = [
    "CANNOT_ASSESS",
    "FLAG",
    "NOT_APPLICABLE",
    "OK",
    "RULES",
    "Finding",
    "Rule",
    "assess",
    "assess_case",
    "summarise",
]

FLAG, OK, CANNOT_ASSESS, NOT_APPLICABLE = "flag", "ok", "cannot_assess", "not_applicable"

#: Default threshold of :data:`long_delay`, in days from the event to the announcement.


@dataclass(frozen=True)
class Finding:
    """What one rule found on one case."""

    rule: str
    status: str
    evidence: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class Rule:
    """A procedural rule as data, with the predicate that applies it to a case."""

    id: str
    jurisdiction: str
    source: str
    description: str
    predicate: Callable[[Rule, Case, dict[str, Any]], Finding]
    in_force_from: PartialDate | None = None
    in_force_until: PartialDate | None = None  # the first day it no longer applies
    kind: str = "regulation"  # regulation | convention | analytic

    def in_force(self, date: PartialDate) -> bool | None:
        """Was the rule in force on ``date``? None when the dates cannot tell.

        A rule's own dates may be partial (``2014-01`` when only the month of
        issue is sourced): an act inside that month is then undecided.
        """
        starts_early = self.in_force_from.earliest if self.in_force_from else dt.date.min
        starts_late = self.in_force_from.latest if self.in_force_from else dt.date.min
        ends_early = self.in_force_until.earliest if self.in_force_until else dt.date.max
        ends_late = self.in_force_until.latest if self.in_force_until else dt.date.max
        if date.earliest >= starts_late and date.latest < ends_early:
            return True
        if date.latest < starts_early or date.earliest >= ends_late:
            return False
        return None

    def judge(self, case: Case, options: dict[str, Any]) -> Finding:
        if self.jurisdiction != "*" and case.country != self.jurisdiction:
            return self._na(f"applies to {self.jurisdiction} only")
        return self.predicate(self, case, options)

    def _na(self, reason: str, **evidence: Any) -> Finding:
        return Finding(self.id, NOT_APPLICABLE, evidence, reason)

    def _unknown(self, reason: str, **evidence: Any) -> Finding:
        return Finding(self.id, CANNOT_ASSESS, evidence, reason)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "jurisdiction": self.jurisdiction,
            "kind": self.kind,
            "in_force_from": str(self.in_force_from) if self.in_force_from else None,
            "in_force_until": str(self.in_force_until) if self.in_force_until else None,
            "source": self.source,
            "description": self.description,
        }


# --------------------------------------------------------------------------- facts


_EXITS = {Category.btr, Category.dismissal}


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _within_years(start: PartialDate, end: PartialDate, years: int) -> bool | None:
    """Is ``end`` before the ``years``-th anniversary of ``start``? None when the dates cannot tell."""
    if end.latest < _add_years(start.earliest, years):
        return True
    if end.earliest >= _add_years(start.latest, years):
        return False
    return None


def _return_facts(rule: Rule, case: Case) -> tuple[Finding | None, PartialDate, FollowupPost, dict]:
    """Shared preconditions of the reappointment rules; a Finding when they already decide."""
    if case.category not in _EXITS or case.trigger is Trigger.none:
        return rule._na("not an exit for accountability"), None, None, {}
    status = case.followup.status.value
    if status == "unknown":
        return rule._unknown("follow-up status unknown"), None, None, {}
    post = first_return(case)
    if post is None:
        if status == "reappointed":
            return rule._unknown("reappointed, but no post recorded"), None, None, {}
        return rule._na(f"no return to a post (follow-up: {status})"), None, None, {}
    left = left_on(case)
    if left is None:
        return rule._unknown("date of the resignation unknown"), None, None, {}
    if post.date is None:
        return rule._unknown("date of the return unknown", post=post.post_en), None, None, {}
    days = left.days_until(post.date)
    evidence = {
        "left": str(left),
        "returned": str(post.date),
        "post": post.post_en,
        "level_change": post.level_change.value,
        "days": days[0] if days[0] == days[1] else list(days),
    }
    in_force = rule.in_force(post.date)
    if in_force is None:
        return (
            rule._unknown("the return date straddles the rule's entry into force", **evidence),
            None,
            None,
            {},
        )
    if not in_force:
        return rule._na("the return falls outside the rule's dates in force", **evidence), None, None, {}
    return None, left, post, evidence


def _return_rule(years: int, levels: set[LevelChange], unsure_levels: set[LevelChange]) -> Callable:
    """A reappointment rule: a return at one of ``levels`` within ``years`` is a gap.

    ``unsure_levels`` are levels at which the rule may or may not bite (for
    example a lower post that may or may not be a leadership post).
    """

    def predicate(rule: Rule, case: Case, options: dict[str, Any]) -> Finding:
        decided, left, post, evidence = _return_facts(rule, case)
        if decided is not None:
            return decided
        within = _within_years(left, post.date, years)
        if within is False:
            return Finding(rule.id, OK, evidence, f"returned after {years} year(s) or more")
        level = post.level_change
        if level in levels:
            if within:
                return Finding(rule.id, FLAG, evidence, f"{level.value} post within {years} year(s)")
            return rule._unknown("dates too imprecise to tell the interval", **evidence)
        if level is LevelChange.unknown or level in unsure_levels:
            return rule._unknown(
                f"level of the new post ({level.value}) does not settle the rule", **evidence
            )
        return Finding(rule.id, OK, evidence, f"{level.value} post: not restricted by this rule")

    return predicate


# Posts elected by a people's congress: government heads and deputies at every level.
_ELECTED_POST = re.compile(r"(省|市|县|区|州|盟|旗|乡|镇)长|自治区(人民政府)?主席|(国务院)?(部长|总理|主任)$")
_PARTY_ONLY = re.compile(r"书记|党委|党组")


def _elected_government_post(post: str) -> bool:
    parts = re.split(r"[、，,/兼和及]", post)
    return any(_ELECTED_POST.search(part) and not _PARTY_ONLY.search(part) for part in parts)


def _accepted_by_congress(rule: Rule, case: Case, options: dict[str, Any]) -> Finding:
    if case.category is not Category.btr:
        return rule._na("not a resignation for blame")
    if not _elected_government_post(case.official.post):
        return rule._na("not a post elected by a people's congress", post=case.official.post)
    date = left_on(case)
    if date is None:
        return rule._unknown("date of the resignation unknown")
    in_force = rule.in_force(date)
    if in_force is None:
        return rule._unknown("the resignation date straddles the rule's entry into force", resigned=str(date))
    if not in_force:
        return rule._na("the resignation predates the rule", resigned=str(date))
    body = case.procedure.accepting_body
    evidence = {"post": case.official.post, "accepting_body": body.value, "resigned": str(date)}
    if body is AcceptingBody.unknown:
        return rule._unknown("accepting body unknown", **evidence)
    if body in (AcceptingBody.legislature, AcceptingBody.legislature_standing_committee):
        return Finding(rule.id, OK, evidence, "accepted by the people's congress or its standing committee")
    return Finding(rule.id, FLAG, evidence, f"accepted by {body.value}, not by the people's congress")


def _exit_rule_dates(rule: Rule, case: Case) -> tuple[Finding | None, PartialDate | None]:
    if case.category is not Category.btr:
        return rule._na("not a resignation for blame"), None
    date = left_on(case)
    if date is None:
        return rule._unknown("date of the resignation unknown"), None
    in_force = rule.in_force(date)
    if in_force is None:
        return rule._unknown(
            "the resignation date straddles the rule's entry into force", resigned=str(date)
        ), None
    if not in_force:
        return rule._na("the resignation predates the rule", resigned=str(date)), None
    return None, date


def _reason_stated(rule: Rule, case: Case, options: dict[str, Any]) -> Finding:
    decided, date = _exit_rule_dates(rule, case)
    if decided is not None:
        return decided
    reason = case.procedure.reason_stated
    evidence = {"reason_stated": reason.value, "resigned": str(date)}
    if reason is ReasonStated.unknown:
        return rule._unknown("whether a reason was stated is unknown", **evidence)
    if reason in (ReasonStated.none, ReasonStated.euphemism):
        return Finding(rule.id, FLAG, evidence, f"reason {reason.value}")
    return Finding(rule.id, OK, evidence, "reason stated")


def _instead_of_investigation(rule: Rule, case: Case, options: dict[str, Any]) -> Finding:
    decided, date = _exit_rule_dates(rule, case)
    if decided is not None:
        return decided
    before, after = case.procedure.investigation_before, case.followup.legal_followup
    evidence = {"investigation_before": before.value, "legal_followup": after.value, "resigned": str(date)}
    if YesNoUnknown.yes in (before, after):
        return Finding(rule.id, OK, evidence, "investigated before, or legal follow-up after")
    if YesNoUnknown.unknown in (before, after):
        return rule._unknown("investigation or legal follow-up unknown", **evidence)
    return Finding(rule.id, FLAG, evidence, "resigned before any investigation, no legal follow-up")


def _undisclosed_return(rule: Rule, case: Case, options: dict[str, Any]) -> Finding:
    if case.category not in _EXITS:
        return rule._na("not an exit for accountability")
    status = case.followup.status.value
    if status == "unknown":
        return rule._unknown("follow-up status unknown")
    post = first_return(case)
    if post is None:
        if status == "reappointed":
            return rule._unknown("reappointed, but no post recorded")
        return rule._na(f"no return to a post (follow-up: {status})")
    evidence = {
        "post": post.post_en,
        "returned": str(post.date) if post.date else None,
        "disclosed": post.disclosed.value,
    }
    if post.disclosed is YesNoUnknown.unknown:
        return rule._unknown("whether the return was disclosed is unknown", **evidence)
    if post.disclosed is YesNoUnknown.no:
        return Finding(rule.id, FLAG, evidence, "return not announced with reference to the resignation")
    return Finding(rule.id, OK, evidence, "return disclosed")


def _long_delay(rule: Rule, case: Case, options: dict[str, Any]) -> Finding:
    if case.category is not Category.btr:
        return rule._na("not a resignation for blame")
    threshold = int(options.get("delay_days", DEFAULT_DELAY_DAYS))
    event, announced = case.event.date, case.procedure.announced or case.procedure.effective
    if event is None or announced is None:
        return rule._unknown("event or announcement date unknown", threshold_days=threshold)
    least, most = event.days_until(announced)
    evidence = {
        "event": str(event),
        "announced": str(announced),
        "days": least if least == most else [least, most],
        "threshold_days": threshold,
    }
    if least > threshold:
        return Finding(rule.id, FLAG, evidence, f"more than {threshold} days from event to resignation")
    if most <= threshold:
        return Finding(rule.id, OK, evidence, f"within {threshold} days")
    return rule._unknown("dates too imprecise to compare with the threshold", **evidence)


_D = PartialDate
_REG_2002 = "《党政领导干部选拔任用工作条例》(2002, 中发〔2002〕7号) Art. 62"
_REG_2009 = "《关于实行党政领导干部问责的暂行规定》(2009, 中办发〔2009〕25号) Art. 10"
_REG_2014 = "《党政领导干部选拔任用工作条例》(2014; article number unconfirmed), as restated for 2019 in 12371.cn Q&A no. 44 (2020)"

#: The rules, in report order. Dates in force are those in the research notes; see each ``source``.
RULES: tuple[Rule, ...] = (
    Rule(
        id="cn_return_within_1y_2002",
        jurisdiction="CN",
        source=_REG_2002,
        description=(
            "After 引咎辞职, 责令辞职 or demotion, a cadre may be reappointed or promoted only after at least "
            "one year in a new post: a return at the same or a higher level within one year is a gap."
        ),
        predicate=_return_rule(1, {LevelChange.same, LevelChange.higher}, set()),
        in_force_from=_D("2002-07-09"),
        in_force_until=_D("2014-01"),
    ),
    Rule(
        id="cn_equivalent_within_1y_2009",
        jurisdiction="CN",
        source=_REG_2009,
        description=(
            "Those who resigned for blame, were ordered to resign or were removed may not hold a post "
            "equivalent to their former one for one year."
        ),
        predicate=_return_rule(1, {LevelChange.same, LevelChange.higher}, set()),
        in_force_from=_D("2009-06-30"),
    ),
    Rule(
        id="cn_return_within_1y_2014",
        jurisdiction="CN",
        source=_REG_2014,
        description=(
            "2014: no post (职务) for one year after 引咎辞职, 责令辞职 or removal for accountability. "
            "2019 narrows this to leadership posts (领导职务), so from March 2019 a lower post within "
            "a year may be a non-leadership post: cannot_assess."
        ),
        predicate=_return_rule(1, {LevelChange.lower, LevelChange.same, LevelChange.higher}, set()),
        in_force_from=_D("2014-01"),
        in_force_until=_D("2019-03"),
    ),
    Rule(
        id="cn_return_within_1y_2019",
        jurisdiction="CN",
        source=_REG_2014.replace("(2014; article number unconfirmed), as restated for 2019 in", "(2019) per"),
        description="2019: no leadership post (领导职务) for one year after 引咎辞职, 责令辞职 or removal for accountability.",
        predicate=_return_rule(1, {LevelChange.same, LevelChange.higher}, {LevelChange.lower}),
        in_force_from=_D("2019-03"),
    ),
    Rule(
        id="cn_higher_within_2y",
        jurisdiction="CN",
        source=_REG_2014,
        description="2014 and 2019: no post above the former level for two years.",
        predicate=_return_rule(2, {LevelChange.higher}, set()),
        in_force_from=_D("2014-01"),
    ),
    Rule(
        id="cn_elected_post_not_accepted_by_congress",
        jurisdiction="CN",
        source=(
            "《党政领导干部辞职暂行规定》(2004) Arts. 9 and 20 (legal procedure for posts elected by a "
            "people's congress); 地方组织法 (2022) Art. 32 (Art. 27 before 2022)"
        ),
        description=(
            "Resignation from a government post elected by a people's congress must be accepted by the "
            "congress or its standing committee, not only by a Party committee."
        ),
        predicate=_accepted_by_congress,
        in_force_from=_D("2004-04-08"),
    ),
    Rule(
        id="cn_no_stated_reason",
        jurisdiction="CN",
        source="《党政领导干部辞职暂行规定》(2004) Art. 16 (written application giving the reasons); 问责暂行规定 (2009) Art. 20 (decisions generally made public)",
        description="A resignation for blame announced with no reason, or with a euphemism (另有任用, personal reasons).",
        predicate=_reason_stated,
        in_force_from=_D("2004-04-08"),
    ),
    Rule(
        id="cn_resignation_instead_of_investigation",
        jurisdiction="CN",
        source="问责暂行规定 (2009) Art. 4: accountability does not replace Party or administrative discipline; crimes go to the judiciary",
        description="Resigned before any investigation concluded, and no later disciplinary or legal follow-up (一辞了之).",
        predicate=_instead_of_investigation,
        in_force_from=_D("2009-06-30"),
    ),
    Rule(
        id="cn_return_not_disclosed",
        jurisdiction="CN",
        source="Critique '高调问责，低调复出' (research notes §4; seed papers); 问责暂行规定 (2009) Art. 20 asks that decisions be made public",
        description="A return to a post that was not announced with reference to the earlier resignation.",
        predicate=_undisclosed_return,
        kind="analytic",
    ),
    Rule(
        id="long_delay",
        jurisdiction="*",
        source="Analytic threshold (domain brief: 'long delay from event to resignation'); no binding rule in any jurisdiction",
        description="More than the threshold (default 60 days, --delay-days) from the event to the announced resignation.",
        predicate=_long_delay,
        kind="analytic",
    ),
)

#: Conventions considered and not encoded, with the reason (shown in the report).
NOT_ENCODED = {
    "GB Ministerial Code para 1.3": "Ministers who knowingly mislead Parliament are expected to offer their "
    "resignation; the corpus has no structured field for 'knowingly misled', so it cannot be judged without a guess.",
    "JP appointment responsibility (任命責任)": "A political convention on the prime minister, with no procedure "
    "or time limit to test.",
    "HK Principal Officials Accountability System (2002)": "Resignations go through the Chief Executive to the "
    "Central People's Government; no time limits or disclosure duties to test.",
    "CN 2010 rule (one year equivalent, two years promotion)": "Press reports only; document and article unconfirmed.",
}


def assess_case(
    case: Case, *, rules: Iterable[Rule] = RULES, delay_days: int = DEFAULT_DELAY_DAYS
) -> list[Finding]:
    """Judge one case by every rule.

    Examples
    --------
    >>> [f.status for f in assess_case(case)]  # doctest: +SKIP
    ['ok', 'flag', ...]
    """
    options = {"delay_days": delay_days}
    return [rule.judge(case, options) for rule in rules]


def assess(cases: Iterable[Case], *, delay_days: int = DEFAULT_DELAY_DAYS) -> list[dict[str, Any]]:
    """Judge every case; one dict per case with its findings (rule source included).

    Parameters
    ----------
    cases : iterable of Case
    delay_days : int
        Threshold of the ``long_delay`` rule.

    Returns
    -------
    list of dict
        ``{"id", "country", "category", "official", "findings": [{"rule", "status", "reason",
        "evidence", "source"}]}``.
    """
    sources = {rule.id: rule.source for rule in RULES}
    out = []
    for case in cases:
        findings = assess_case(case, delay_days=delay_days)
        out.append(
            {
                "id": case.id,
                "country": case.country,
                "category": case.category.value,
                "official": case.official.name_en,
                "post": case.official.post_en,
                "flags": [f.rule for f in findings if f.status == FLAG],
                "findings": [
                    {
                        "rule": f.rule,
                        "status": f.status,
                        "reason": f.reason,
                        "evidence": f.evidence,
                        "source": sources[f.rule],
                    }
                    for f in findings
                ],
            }
        )
    return out


def summarise(assessed: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Count statuses per rule: ``{rule: {"flag": n, "ok": n, "cannot_assess": n, "not_applicable": n}}``."""
    table = {rule.id: dict.fromkeys((FLAG, OK, CANNOT_ASSESS, NOT_APPLICABLE), 0) for rule in RULES}
    for row in assessed:
        for finding in row["findings"]:
            table[finding["rule"]][finding["status"]] += 1
    return table
