"""The Label Studio labeling config, generated from the one schema, and the fields it edits."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from btr.paths import ROOT
from btr.schema import (
    HEADS,
    AcceptingBody,
    FollowupStatus,
    Level,
    LevelChange,
    ReasonStated,
    YesNoUnknown,
)

STATE_DIR = ROOT / "annotate" / "state"
GUIDELINES = ROOT / "annotate" / "guidelines.md"
CONFIG_FILE = ROOT / "annotate" / "labeling_config.xml"
SERVE_DIR = ROOT / ".label-studio"

# ----------------------------------------------------------------------------- the fields


@dataclass(frozen=True)
class _Field:
    """One control of the labeling interface and where its value lives in a case."""

    name: str
    kind: str  # choices | text | number
    path: tuple[str | int, ...]
    title: str
    labels: type | None = None
    new_case_only: bool = False


def _choice(name: str, path: tuple, title: str, labels: type) -> _Field:
    return _Field(name, "choices", path, title, labels)


#: Every annotated field, in interface order. Dates are free text because a
#: date may be known only to the year or month (the schema's PartialDate).
FIELDS: tuple[_Field, ...] = (
    *(_choice(head, (head,), head.capitalize(), labels) for head, labels in HEADS.items()),
    _Field("event_date", "text", ("event", "date"), "Event date"),
    _Field("deaths", "number", ("event", "deaths"), "Deaths"),
    _Field("injured", "number", ("event", "injured"), "Injured"),
    _Field("announced", "text", ("procedure", "announced"), "Resignation announced"),
    _Field("effective", "text", ("procedure", "effective"), "Took effect / accepted"),
    _choice("accepting_body", ("procedure", "accepting_body"), "Accepting body", AcceptingBody),
    _choice("reason_stated", ("procedure", "reason_stated"), "Reason stated", ReasonStated),
    _choice(
        "investigation_before",
        ("procedure", "investigation_before"),
        "Investigation concluded before",
        YesNoUnknown,
    ),
    _choice("apology", ("procedure", "apology"), "Apology", YesNoUnknown),
    _choice("followup_status", ("followup", "status"), "Follow-up status (复出)", FollowupStatus),
    _choice(
        "legal_followup",
        ("followup", "legal_followup"),
        "Later investigated, sanctioned or tried",
        YesNoUnknown,
    ),
    _Field("followup_post_en", "text", ("followup", "posts", 0, "post_en"), "First new post (English)"),
    _Field("followup_post", "text", ("followup", "posts", 0, "post"), "First new post (original language)"),
    _Field("followup_date", "text", ("followup", "posts", 0, "date"), "Date of the first new post"),
    _choice(
        "followup_level_change",
        ("followup", "posts", 0, "level_change"),
        "Level against the old post",
        LevelChange,
    ),
    _choice(
        "followup_disclosed",
        ("followup", "posts", 0, "disclosed"),
        "Return announced with reference to the resignation",
        YesNoUnknown,
    ),
    # What an article needs to become a new case (the case's own text is written by the annotator).
    _Field(
        "official_name", "text", ("official", "name"), "Official's name (original script)", new_case_only=True
    ),
    _Field(
        "official_name_en", "text", ("official", "name_en"), "Official's name (English)", new_case_only=True
    ),
    _Field("post", "text", ("official", "post"), "Post left (original language)", new_case_only=True),
    _Field("post_en", "text", ("official", "post_en"), "Post left (English)", new_case_only=True),
    _Field("level", "choices", ("official", "level"), "Level of the post left", Level, new_case_only=True),
    _Field("country", "text", ("country",), "Country (ISO code: CN, HK, JP, GB ...)", new_case_only=True),
    _Field(
        "event_id", "text", ("event_id",), "Event id (shared by the cases of one event)", new_case_only=True
    ),
    _Field("summary_zh", "text", ("text", "zh"), "Case summary, Chinese", new_case_only=True),
    _Field("summary_en", "text", ("text", "en"), "Case summary, English", new_case_only=True),
)
_BY_NAME = {f.name: f for f in FIELDS}
#: Fields merged into existing cases (the new-case fields only create cases).
_MERGED = tuple(f for f in FIELDS if not f.new_case_only)
_CHOICE_FIELDS = tuple(f.name for f in FIELDS if f.kind == "choices")
_KEYS = "1234567890qwertyuiopasdfghjklzxcvbnm"
# single keys first; the heads have more labels than the keyboard has keys
_HOTKEYS = [*_KEYS, *(f"shift+{k}" for k in _KEYS)]
_TO = "text"


def _attr(value: str) -> str:
    return html.escape(str(value), quote=True).replace("\n", "&#10;")


def guidelines_summary(path: Path = GUIDELINES) -> str:
    """The instructions shown to annotators.

    The section of ``annotate/guidelines.md`` whose heading contains "Summary";
    without one (or without the file), instructions generated from the schema.
    """
    if path.exists():
        sections = re.split(r"(?m)^(#{1,3} .*)$", path.read_text(encoding="utf-8"))
        for i in range(1, len(sections) - 1, 2):
            if "summary" in sections[i].lower() and sections[i + 1].strip():
                return sections[i + 1].strip()
    lines = [
        "A case is one official's exit (or non-exit) over one event. Label what the sources say "
        "happened; choose unknown or unclear when they do not say. Hover a choice for its definition; "
        "the full codebook is annotate/guidelines.md.",
    ]
    for head, labels in HEADS.items():
        lines.append(f"{head}: {(labels.__doc__ or '').strip()}")
    lines.append(
        "Dates: YYYY, YYYY-MM or YYYY-MM-DD, only as precise as the source. "
        "For an article that reports a case not yet in the corpus, also fill the 'New case' panel."
    )
    return "\n".join(lines)


def labeling_config(guidelines: Path = GUIDELINES) -> str:
    """The Label Studio labeling config, generated from :mod:`btr.schema`.

    The text (with title, date and source link) first, one ``Choices`` per
    head with hotkeys and hints, then panels for the procedure, the follow-up,
    the fields a new case needs, and a notes box.

    Examples
    --------
    >>> "<Choices name=\\"category\\"" in labeling_config()
    True
    """
    keys = iter(_HOTKEYS)
    out = [
        "<View>",
        '  <View style="padding: 0.5em 1em; background: #f6f6f6; border-radius: 4px">',
        '    <Header value="Instructions" size="5"/>',
        f'    <Text name="instructions" value="{_attr(guidelines_summary(guidelines))}"/>',
        "  </View>",
        '  <Header value="$title"/>',
        '  <HyperText name="source" value="$source_html" inline="true"/>',
        f'  <Text name="{_TO}" value="$text"/>',
    ]

    def control(f: _Field, indent: str, hotkeys: bool) -> list[str]:
        lines = [f'{indent}<Header value="{_attr(f.title)}" size="6"/>']
        if f.kind == "choices":
            required = ' required="true"' if f.name in HEADS else ""
            lines.append(
                f'{indent}<Choices name="{f.name}" toName="{_TO}" choice="single-radio" showInline="true"{required}>'
            )
            for label in f.labels:  # type: ignore[union-attr]
                key = f' hotkey="{next(keys)}"' if hotkeys else ""
                lines.append(
                    f'{indent}  <Choice value="{_attr(label.value)}"{key} hint="{_attr(label.hint)}"/>'
                )
            lines.append(f"{indent}</Choices>")
        elif f.kind == "number":
            lines.append(f'{indent}<Number name="{f.name}" toName="{_TO}" min="0"/>')
        else:
            hint = (
                " (YYYY, YYYY-MM or YYYY-MM-DD)"
                if "date" in f.name or f.name in ("announced", "effective")
                else ""
            )
            lines.append(
                f'{indent}<TextArea name="{f.name}" toName="{_TO}" rows="1" maxSubmissions="1" '
                f'editable="true" placeholder="{_attr(f.title + hint)}"/>'
            )
        return lines

    for f in FIELDS:
        if f.name in HEADS:
            out += control(f, "  ", hotkeys=True)
    panels = {
        "Procedure": [f for f in FIELDS if f.path[0] in ("event", "procedure")],
        "Follow-up (复出)": [f for f in FIELDS if f.path[0] == "followup"],
        "New case (articles only: who left which post)": [f for f in FIELDS if f.new_case_only],
    }
    out.append("  <Collapse>")
    for title, fields in panels.items():
        out.append(f'    <Panel value="{_attr(title)}">')
        for f in fields:
            out += control(f, "      ", hotkeys=False)
        out.append("    </Panel>")
    out.append("  </Collapse>")
    out += [
        '  <Header value="Notes" size="6"/>',
        f'  <TextArea name="notes" toName="{_TO}" rows="3" maxSubmissions="1" editable="true" '
        'placeholder="Anything a reviewer should know: doubts, other sources, a better date"/>',
        "</View>",
        "",
    ]
    return "\n".join(out)
