"""The one label schema of btr.

Every label set is declared here exactly once, as a :class:`enum.StrEnum` whose
members carry a one-line hint. The Label Studio config (:mod:`btr.labelstudio`),
the datasets ``Features`` (:func:`btr.corpus.features`), the CLI choices and
the model heads (:data:`HEADS`) are all derived from these declarations.

A case is one official's exit (or non-exit) over one event; see
``annotate/guidelines.md`` for the codebook.
"""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any

import pycountry
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from btr.dates import PartialDate

__all__ = [
    "CATEGORY_EXIT_STATUSES",
    "CATEGORY_FIXED_LABELS",
    "HEADS",
    "REQUIRED_TEXT_LANGUAGES",
    "TEXT_LANGUAGES",
    "UNRELATED_LABELS",
    "AcceptingBody",
    "Annotation",
    "Case",
    "Category",
    "Curation",
    "Event",
    "ExitStatus",
    "ExitText",
    "Followup",
    "FollowupPost",
    "FollowupSearch",
    "FollowupStatus",
    "Initiation",
    "Language",
    "Level",
    "LevelChange",
    "Official",
    "PartialDate",
    "Procedure",
    "ReasonStated",
    "Responsibility",
    "Source",
    "Text",
    "Trigger",
    "YesNoUnknown",
    "hint",
    "label_names",
]


class _Labels(StrEnum):
    """A label set whose members carry a hint for annotators."""

    def __new__(cls, value: str, hint: str = "") -> _Labels:
        member = str.__new__(cls, value)
        member._value_ = value
        member.hint = hint
        return member


class Category(_Labels):
    """Relevance: is this a blame-taking resignation, or a near miss?"""

    btr = "btr", "Resigns or is ordered to resign, taking blame (incl. 责令辞职, pressured)"
    other_resignation = "other_resignation", "Leaves for reasons that are not blame: health, new post, term"
    dismissal = "dismissal", "Removed, dismissed or prosecuted without a resignation (免职, 撤职)"
    no_resignation = "no_resignation", "Calls to resign, apologies or refused offers; the official stays"
    non_public = "non_public", "Private-company or non-state resignation, even if blame-taking"
    unrelated = "unrelated", "Reports no exit from any public or corporate post and no demand for one"


class ExitStatus(_Labels):
    """What happened to the exit the text is about (a head of its own for open-world news)."""

    occurred = "occurred", "The official resigned, was removed, or the exit was announced"
    demanded = "demanded", "Resignation was called for or demanded, and has not happened"
    refused = "refused", "The official refused to go, or an offer to resign was turned down"
    denied_or_rumoured = "denied_or_rumoured", "An exit was rumoured or speculated about, or denied"
    conditional_or_future = "conditional_or_future", "Promised on a condition, or only for the future"
    no_exit = "no_exit", "No exit and no demand for one is reported"


class Trigger(_Labels):
    """The event blamed."""

    safety_accident = "safety_accident", "Mine, fire, explosion, transport, construction, stampede"
    disaster_response = "disaster_response", "Failures in responding to a natural disaster"
    public_health = "public_health", "Epidemics, hospitals, health-system failures"
    food_drug_safety = "food_drug_safety", "Tainted food, milk, vaccines, drugs"
    environmental_pollution = "environmental_pollution", "Spills, smog, water or soil pollution"
    public_order_incident = "public_order_incident", "Mass incidents, protests, petition failures"
    corruption_financial = "corruption_financial", "Bribes, misuse of funds, financial scandal"
    personal_misconduct = "personal_misconduct", "Remarks, personal scandals, plagiarism"
    policy_administrative_failure = "policy_administrative_failure", "Failed policy, administrative error"
    security_failure = "security_failure", "Security, intelligence, police or military failure"
    other = "other", "A blamed event that fits no other trigger"
    none = "none", "No blamed event (e.g. a resignation for a new post)"


class Responsibility(_Labels):
    """The basis of the blame (问责条例 2019 Art. 6; 纪律处分条例)."""

    direct = "direct", "The official's own act or decision caused the failure (直接责任)"
    leadership_main = "leadership_main", "Head of the body where it happened (主要领导责任)"
    leadership_deputy = "leadership_deputy", "Deputy in charge of that field (分管, 重要领导责任)"
    supervisory = "supervisory", "Heads the regulator that failed to supervise (监管责任)"
    political = "political", "Collective or political responsibility of a government or cabinet head"
    personal_conduct = "personal_conduct", "The official's own conduct outside the duties of the post"
    none = "none", "No responsibility is at stake"
    unclear = "unclear", "Blame is at stake but its basis cannot be told"


class Initiation(_Labels):
    """Who started the exit."""

    self_initiated = "self_initiated", "The official offered to go on his or her own"
    pressured = "pressured", "Public, media, legislature or party 'required' it"
    ordered = "ordered", "责令辞职 or an equivalent formal order"
    not_applicable = "not_applicable", "No resignation took place"
    unknown = "unknown", "No source says who started it"


class AcceptingBody(_Labels):
    """Who accepted or decided the resignation."""

    legislature_standing_committee = (
        "legislature_standing_committee",
        "A people's congress standing committee (地方组织法 2022 Art. 32)",
    )
    legislature = "legislature", "A legislature or people's congress in session"
    party_committee = "party_committee", "A Party committee or the Party Centre"
    head_of_government = "head_of_government", "Prime minister, premier, State Council, mayor"
    head_of_state = "head_of_state", "President, monarch, governor-general"
    board = "board", "A company or enterprise board, or its owner"
    not_applicable = "not_applicable", "No resignation to accept"
    unknown = "unknown", "No source says who accepted it"


class ReasonStated(_Labels):
    """Whether the announcement gave the real reason."""

    stated = "stated", "The announcement names the failure or the blame"
    euphemism = "euphemism", "另有任用, 'personal reasons', 'health' instead of the blame"
    none = "none", "No reason was given"
    not_applicable = "not_applicable", "No resignation was announced"
    unknown = "unknown", "No source says"


class YesNoUnknown(_Labels):
    yes = "yes", "Yes"
    no = "no", "No"
    unknown = "unknown", "No source says"


class FollowupStatus(_Labels):
    """What became of the official afterwards (复出)."""

    not_reappointed = "not_reappointed", "No later public post found by searching"
    reappointed = "reappointed", "Returned to a public post"
    prosecuted = "prosecuted", "Investigated, tried or sentenced"
    retired = "retired", "Retired, or left public life by age or choice"
    not_applicable = "not_applicable", "The official stayed in post (no exit)"
    unknown = "unknown", "Searching found nothing either way"


class LevelChange(_Labels):
    """Level of a new post against the post left."""

    lower = "lower", "Below the former post"
    same = "same", "Equivalent to the former post"
    higher = "higher", "Above the former post"
    unknown = "unknown", "No source gives the level"


class Level(_Labels):
    """Jurisdiction level of the post left."""

    national = "national", "Central government, ministry, cabinet, national agency"
    provincial = "provincial", "Province, state, region, special administrative region"
    municipal = "municipal", "Prefecture-level or large city"
    county = "county", "County, county-level city, district"
    township = "township", "Township, town, village"
    state_owned_enterprise = "state_owned_enterprise", "Head of a state-owned enterprise"
    private_sector = "private_sector", "Private company or non-state body"
    other = "other", "Any other public body"


class Language(_Labels):
    zh = "zh", "Chinese"
    en = "en", "English"
    ja = "ja", "Japanese"
    ko = "ko", "Korean"
    de = "de", "German"
    fr = "fr", "French"
    nl = "nl", "Dutch"
    es = "es", "Spanish"
    pt = "pt", "Portuguese"
    it = "it", "Italian"
    ro = "ro", "Romanian"
    el = "el", "Greek"
    sv = "sv", "Swedish"
    no = "no", "Norwegian"
    sk = "sk", "Slovak"
    sr = "sr", "Serbian"
    ru = "ru", "Russian"
    tr = "tr", "Turkish"
    ar = "ar", "Arabic"
    he = "he", "Hebrew"
    hi = "hi", "Hindi"
    other = "other", "Another language"


#: The label fields learned from text, in the order the models predict them.
HEADS: dict[str, type[_Labels]] = {
    "category": Category,
    "trigger": Trigger,
    "responsibility": Responsibility,
    "initiation": Initiation,
    "exit_status": ExitStatus,
}

#: The label of each head for a text that reports no exit and no demand for one.
UNRELATED_LABELS: dict[str, str] = {
    "category": "unrelated",
    "trigger": "none",
    "responsibility": "none",
    "initiation": "not_applicable",
    "exit_status": "no_exit",
}

#: The exit statuses each category allows; a case's ``exit_status`` must be one of them.
CATEGORY_EXIT_STATUSES: dict[Category, tuple[ExitStatus, ...]] = {
    Category.btr: (ExitStatus.occurred,),
    Category.other_resignation: (ExitStatus.occurred,),
    Category.dismissal: (ExitStatus.occurred,),
    Category.no_resignation: (
        ExitStatus.demanded,
        ExitStatus.refused,
        ExitStatus.denied_or_rumoured,
        ExitStatus.conditional_or_future,
    ),
    Category.non_public: tuple(s for s in ExitStatus if s is not ExitStatus.no_exit),
    Category.unrelated: (ExitStatus.no_exit,),
}

#: Labels a category settles for other heads: a resignation for reasons that are not blame
#: has no blamed event and no basis of blame, and a text about no exit has the unrelated
#: labels. The conditional heads (trigger, responsibility) are read together with these.
CATEGORY_FIXED_LABELS: dict[Category, dict[str, str]] = {
    Category.other_resignation: {"trigger": "none", "responsibility": "none"},
    Category.unrelated: {head: label for head, label in UNRELATED_LABELS.items() if head != "category"},
}


def _check_exit_status(category: Category, status: ExitStatus) -> None:
    allowed = CATEGORY_EXIT_STATUSES[category]
    if status not in allowed:
        raise PydanticCustomError(
            "exit_status",
            "exit_status '{status}' does not fit category '{category}' (allowed: {allowed})",
            {
                "status": status.value,
                "category": category.value,
                "allowed": ", ".join(a.value for a in allowed),
            },
        )


def label_names(labels: type[_Labels]) -> list[str]:
    """Return the label names of a label set, in declaration order.

    Examples
    --------
    >>> label_names(Category)
    ['btr', 'other_resignation', 'dismissal', 'no_resignation', 'non_public', 'unrelated']
    """
    return [member.value for member in labels]


def hint(label: _Labels) -> str:
    """Return the annotator hint of one label."""
    return label.hint


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_enum_values=False)


NonEmpty = Annotated[str, Field(min_length=1)]


class Official(_Strict):
    """Who: the name and the post left, in the original script and in English."""

    name: NonEmpty = Field(description="Name in the original script (张文康, 稲田朋美, Amber Rudd)")
    name_en: NonEmpty = Field(description="Name in English / romanised")
    post: NonEmpty = Field(description="Post left, in the original language")
    post_en: NonEmpty = Field(description="Post left, in English")
    level: Level


class Event(_Strict):
    """What happened: the event blamed, its date and its harm."""

    date: PartialDate | None = None
    deaths: Annotated[int, Field(ge=0)] | None = None
    injured: Annotated[int, Field(ge=0)] | None = None
    place: str | None = None


class Procedure(_Strict):
    """How the exit happened (the fields the gap rules read)."""

    announced: PartialDate | None = None
    effective: PartialDate | None = None
    accepting_body: AcceptingBody = AcceptingBody.unknown
    reason_stated: ReasonStated = ReasonStated.unknown
    investigation_before: YesNoUnknown = YesNoUnknown.unknown
    apology: YesNoUnknown = YesNoUnknown.unknown


class FollowupPost(_Strict):
    """A later public post."""

    date: PartialDate | None = None
    post: str | None = Field(default=None, description="In the original language")
    post_en: NonEmpty
    level_change: LevelChange = LevelChange.unknown
    disclosed: YesNoUnknown = YesNoUnknown.unknown
    source_url: HttpUrl | None = None


class Followup(_Strict):
    """What came later (复出). ``posts`` are in date order; the first is the first return."""

    status: FollowupStatus = FollowupStatus.unknown
    posts: list[FollowupPost] = Field(default_factory=list)
    legal_followup: YesNoUnknown = Field(
        default=YesNoUnknown.unknown,
        description="Was the official later investigated, sanctioned or tried over the event?",
    )

    @model_validator(mode="after")
    def _posts_need_reappointment(self) -> Followup:
        if self.posts and self.status not in (
            FollowupStatus.reappointed,
            FollowupStatus.prosecuted,
            FollowupStatus.retired,
        ):
            raise ValueError(f"posts are listed but status is {self.status.value!r}; use 'reappointed'")
        return self


class Text(_Strict):
    """The case told in the project's own words: Chinese and English always, and the
    language of the case's country where the tagger's lexicon covers it.

    The fields of this model are the one declaration of the corpus's text languages
    (:data:`TEXT_LANGUAGES`); every text carries the same facts as ``en``.
    """

    zh: NonEmpty
    en: NonEmpty
    ja: NonEmpty | None = None
    ko: NonEmpty | None = None
    de: NonEmpty | None = None
    fr: NonEmpty | None = None
    es: NonEmpty | None = None
    pt: NonEmpty | None = None
    it: NonEmpty | None = None
    ru: NonEmpty | None = None
    nl: NonEmpty | None = None

    def items(self) -> list[tuple[str, str]]:
        """``(language, text)`` for every text present, in :data:`TEXT_LANGUAGES` order."""
        return [(lang, t) for lang in TEXT_LANGUAGES if (t := getattr(self, lang)) is not None]

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: Any) -> dict[str, Any]:
        # a case has texts in two to three of the languages: absent ones are not written as nulls
        return {lang: text for lang, text in handler(self).items() if text is not None}


class Source(_Strict):
    url: HttpUrl
    publisher: NonEmpty
    title: str | None = None
    date: PartialDate | None = None
    language: Language = Language.en


class Annotation(_Strict):
    """One annotator's labels for a case (curation pass or Label Studio)."""

    annotator: NonEmpty
    category: Category
    trigger: Trigger
    responsibility: Responsibility
    initiation: Initiation
    exit_status: ExitStatus | None = Field(
        default=None, description="Absent in annotations made before the head"
    )
    origin: str = Field(default="curation", description="curation, label_studio, ...")
    blind: bool = Field(default=False, description="Made without seeing the other labels")


class FollowupSearch(_Strict):
    """One search for an official's later career, kept so that 'searched, nothing found'
    can be told from 'never searched'."""

    date: PartialDate = Field(description="When the search was made")
    queries: Annotated[list[NonEmpty], Field(min_length=1)]
    found: bool = Field(description="Did the search find a later post or fate?")
    notes: str = ""


class Curation(_Strict):
    verified: bool = False
    notes: str = ""
    annotations: list[Annotation] = Field(default_factory=list)
    followup_searches: list[FollowupSearch] = Field(default_factory=list)


#: The corpus's text languages, declared once by the fields of :class:`Text`.
TEXT_LANGUAGES: tuple[str, ...] = tuple(Text.model_fields)
#: The languages every case must have a text in.
REQUIRED_TEXT_LANGUAGES: tuple[str, ...] = tuple(n for n, f in Text.model_fields.items() if f.is_required())

_ID_RE = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"


class Case(_Strict):
    """One official's exit (or non-exit) over one event.

    Several officials leaving over one event are several cases sharing one
    ``event_id``. The four heads (``category``, ``trigger``,
    ``responsibility``, ``initiation``) are the labels models learn from text.
    """

    id: Annotated[str, Field(pattern=_ID_RE, description="Stable case id, e.g. cn-2008-meng-xuenong")]
    event_id: Annotated[str, Field(pattern=_ID_RE)]
    category: Category
    country: Annotated[str, Field(description="ISO 3166-1 alpha-2 code (CN, HK, TW, JP, GB, ...)")]
    official: Official
    event: Event = Field(default_factory=Event)
    trigger: Trigger
    responsibility: Responsibility
    initiation: Initiation
    exit_status: ExitStatus | None = Field(
        default=None,
        description="What happened to the exit; derived from the category where it allows one only",
    )
    procedure: Procedure = Field(default_factory=Procedure)
    followup: Followup = Field(default_factory=Followup)
    text: Text
    sources: Annotated[list[Source], Field(min_length=1)]
    curation: Curation = Field(default_factory=Curation)

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: str) -> str:
        if pycountry.countries.get(alpha_2=value) is None or value != value.upper():
            raise PydanticCustomError(
                "country", "{value!r} is not an ISO 3166-1 alpha-2 code", {"value": value}
            )
        return value

    @model_validator(mode="after")
    def _exit_status_fits_category(self) -> Case:
        allowed = CATEGORY_EXIT_STATUSES[self.category]
        if self.exit_status is None and self.category is not Category.no_resignation:
            # validate_assignment would re-enter this validator; set the field directly.
            self.__dict__["exit_status"] = allowed[0]
        if self.exit_status is None:
            raise PydanticCustomError(
                "exit_status",
                "category '{category}' needs an exit_status, one of {allowed}",
                {"category": self.category.value, "allowed": ", ".join(a.value for a in allowed)},
            )
        _check_exit_status(self.category, self.exit_status)
        return self

    @model_validator(mode="after")
    def _dates_in_order(self) -> Case:
        chain = [
            ("event.date", self.event.date),
            ("procedure.announced", self.procedure.announced),
            ("procedure.effective", self.procedure.effective),
        ]
        chain += [(f"followup.posts.{i}.date", p.date) for i, p in enumerate(self.followup.posts)]
        known = [(name, d) for name, d in chain if d is not None]
        for (first, a), (second, b) in pairwise(known):
            if a.certainly_after(b):
                raise PydanticCustomError(
                    "date_order",
                    "dates out of order: {first} {a} is after {second} {b}",
                    {"first": first, "a": str(a), "second": second, "b": str(b)},
                )
        return self

    def head(self, name: str) -> str:
        """Return the label of one head as a string."""
        return str(getattr(self, name).value)

    def to_json(self) -> dict[str, Any]:
        """Serialise with a stable key order (the declaration order) and explicit nulls."""
        return self.model_dump(mode="json")


class NewsLanguage(_Labels):
    """The language (and, for Chinese, the script) of a news article."""

    zh_hans = "zh-Hans", "Chinese, Simplified script"
    zh_hant = "zh-Hant", "Chinese, Traditional script"
    en = "en", "English"
    ja = "ja", "Japanese"
    ko = "ko", "Korean"
    de = "de", "German"
    fr = "fr", "French"
    es = "es", "Spanish"
    pt = "pt", "Portuguese"
    it = "it", "Italian"
    ru = "ru", "Russian"
    nl = "nl", "Dutch"


class UnrelatedTopic(_Labels):
    """What an unrelated news text is about; the first group is near the topic of exits."""

    accident_no_punishment = "accident_no_punishment", "Accident or disaster; no one punished, or only warned"
    investigation_opened = "investigation_opened", "An investigation or inquiry is opened"
    apology = "apology", "An official or company apologises; no exit is asked for"
    appointment = "appointment", "An appointment, promotion or re-election to a post"
    election = "election", "Campaigns, votes and results"
    cabinet_meeting = "cabinet_meeting", "Cabinet, council or congress business"
    court_case = "court_case", "Trials, verdicts, lawsuits"
    company_leadership = "company_leadership", "Company boards and chiefs, with no one leaving"
    other_near = "other_near", "Other news near the topic (a word of the exit lexicon in another sense)"
    economy = "economy", "Economy, markets, trade"
    weather = "weather", "Weather and climate"
    sport = "sport", "Sport"
    science = "science", "Science and technology"
    culture = "culture", "Culture, arts, entertainment"
    health = "health", "Health and medicine"
    diplomacy = "diplomacy", "Foreign relations and summits"
    local = "local", "Local and community news"
    other = "other", "Any other general news"

    @property
    def near(self) -> bool:
        """True for the topics near the topic of exits."""
        return self in _NEAR_TOPICS


_NEAR_TOPICS = frozenset(list(UnrelatedTopic)[: list(UnrelatedTopic).index(UnrelatedTopic.other_near) + 1])


def _check_persons_sourced(persons: list[str], sources: list[Source]) -> None:
    # a text that names a real person reports a real event, and says where it is reported
    if persons and not sources:
        raise PydanticCustomError(
            "sources",
            "the text names real persons ({persons}) but gives no source",
            {"persons": ", ".join(persons)},
        )


class UnrelatedText(_Strict):
    """A news-style text that reports no exit from any post and no demand for one.

    A text that names a real person reports a real event and carries a source;
    otherwise it names no real person.
    """

    id: Annotated[str, Field(pattern=_ID_RE)]
    language: NewsLanguage
    topic: UnrelatedTopic
    text: NonEmpty
    persons: list[NonEmpty] = Field(default_factory=list, description="Real persons the text names")
    sources: list[Source] = Field(default_factory=list)

    @model_validator(mode="after")
    def _persons_need_sources(self) -> UnrelatedText:
        _check_persons_sourced(self.persons, self.sources)
        return self


class ExitText(_Strict):
    """A news-style training text about an exit, or a demand for one, that names no real person.

    It teaches the model the words of each language for what happened to an exit
    (a resignation announced, a call to resign refused, a rumour denied) beside the
    corpus's case summaries. Like :class:`UnrelatedText`, a text that names a real
    person reports a real event and carries a source.
    """

    id: Annotated[str, Field(pattern=_ID_RE)]
    language: NewsLanguage
    category: Category
    exit_status: ExitStatus
    trigger: Trigger = Trigger.none
    text: NonEmpty
    persons: list[NonEmpty] = Field(default_factory=list, description="Real persons the text names")
    sources: list[Source] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fits(self) -> ExitText:
        if self.category is Category.unrelated:
            raise PydanticCustomError("category", "an exit text is never unrelated (use UnrelatedText)", {})
        _check_exit_status(self.category, self.exit_status)
        _check_persons_sourced(self.persons, self.sources)
        return self


class NewsArticle(_Strict):
    """A news report in the shape of a real one (headline, dateline, body) about a real event.

    Two files hold them. ``corpus/news_dev.jsonl`` is for evaluation only: its events are
    not events of the corpus, and it is never trained on. ``corpus/news_train.jsonl`` holds
    reports written from corpus cases (``case_id``), with that case's labels, so that the
    models learn from the shape of news as well as from the case summaries.
    """

    id: Annotated[str, Field(pattern=_ID_RE)]
    event_id: Annotated[str, Field(pattern=_ID_RE)]
    language: NewsLanguage
    headline: NonEmpty
    dateline: str | None = None
    body: NonEmpty
    category: Category
    trigger: Trigger
    exit_status: ExitStatus
    persons: list[NonEmpty] = Field(default_factory=list, description="Real persons the article names")
    sources: Annotated[list[Source], Field(min_length=1)]
    case_id: Annotated[str, Field(pattern=_ID_RE)] | None = Field(
        default=None, description="Training articles only: the corpus case the article reports"
    )
    notes: str = ""

    @property
    def is_btr(self) -> bool:
        """True when the article reports a blame-taking resignation."""
        return self.category is Category.btr

    @property
    def text(self) -> str:
        """The article as a tagger reads it: headline, dateline and body."""
        return "\n".join(part for part in (self.headline, self.dateline, self.body) if part)

    @model_validator(mode="after")
    def _exit_status_fits_category(self) -> NewsArticle:
        _check_exit_status(self.category, self.exit_status)
        return self
