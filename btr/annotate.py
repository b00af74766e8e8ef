"""The annotation loop with Label Studio: labeling config, push, pull, agreement, a local server.

Tasks
-----
Each task carries the stable id of what it shows in its data: ``case_id`` for a
corpus case, ``article_id`` for a news article, with ``kind`` saying which, and
``btr_hash``, a digest of the rest of the data. A push lists the project's
tasks, imports the ids it does not find, updates a task whose hash changed and
leaves the others alone, so pushing twice creates no duplicates.

State file
----------
``annotate/state/<project>.json`` (``--state-dir``) remembers, per case, the
task it went to and the *base*: the value of every annotated field when the
case was first pushed or last pulled (re-pushing a case whose text changed keeps
its base, so that a label edited locally meanwhile is never taken for unchanged). A pull is a three-way merge per field of the
base, the local corpus value and the adjudicated Label Studio value:

* nobody filled the field in Label Studio: the local value stays;
* the local value still equals the base: the Label Studio value is taken;
* the Label Studio value equals the base, or the local value: nothing to do;
* otherwise both sides changed it (a *local edit*): the local value stays and
  the pair goes to the conflicts file. The base then records the Label Studio
  value as seen, so the same conflict is reported once, not at every pull.

A case with no base (no state file, another server) counts every difference as
a local edit: the safe side. The state file holds no credentials.

Adjudication rule
-----------------
Skipped and cancelled annotations are dropped; of several annotations by one
annotator on a task, the latest counts. Per field, among the annotators who
filled it: a ground-truth annotation (the star a reviewer sets in Label Studio)
decides; otherwise a value chosen by more than half of them wins (with two
annotators they must agree); otherwise the field is a *disagreement*: it stays
as it is and goes to the conflicts file for a reviewer, who resolves it by
starring one annotation as ground truth, or by editing the corpus. Two
exceptions: notes are never adjudicated (each annotator's note is appended to
``curation.notes``, signed), and the free text that makes a new case out of an
article (names, posts, summaries) is taken from the latest annotation when the
texts differ; such a case is unverified until a curator checks it.

Conflicts file
--------------
JSON Lines (default ``annotate/state/<project>.conflicts.jsonl``), rewritten
at every pull and removed when a pull has none. ``kind`` is ``local_edit``,
``disagreement``, ``invalid`` (the merged record fails validation, or an
article lacks what a new case needs) or ``deleted_locally``. When there are
any, the CLI exits with code 3.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import itertools
import json
import os
import re
import secrets
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from btr.errors import DataError, InputError, ModelError, Problem, ServiceError, require
from btr.paths import ROOT
from btr.schema import (
    HEADS,
    AcceptingBody,
    Annotation,
    Case,
    FollowupStatus,
    Language,
    Level,
    LevelChange,
    ReasonStated,
    YesNoUnknown,
    label_names,
)

__all__ = [
    "PullResult",
    "PushResult",
    "agreement_report",
    "connect",
    "export_ratings",
    "labeling_config",
    "pull",
    "push",
    "read_articles",
    "serve",
]

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


# ----------------------------------------------------------------------------- tasks


def _digest(payload: Any) -> str:
    blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _source_html(date: str | None, publisher: str | None, url: str | None) -> str:
    parts = [html.escape(p) for p in (date, publisher) if p]
    if url:
        safe = html.escape(url, quote=True)
        parts.append(f'<a href="{safe}" target="_blank" rel="noopener noreferrer">{safe}</a>')
    return "<p>" + " · ".join(parts) + "</p>"


def case_task_data(case: Case) -> dict[str, Any]:
    """Task data for a case: every language of its text, a title, a date and its first source."""
    source = case.sources[0]
    date = case.event.date or case.procedure.announced or source.date
    data = {
        "kind": "case",
        "case_id": case.id,
        "title": f"{case.official.name_en} ({case.official.name}), {case.official.post_en}",
        "date": str(date) if date else "",
        "url": str(source.url),
        "publisher": source.publisher,
        "text": "\n\n".join(text for _, text in case.text.items()),
    }
    data["source_html"] = _source_html(data["date"], data["publisher"], data["url"])
    data["btr_hash"] = _digest(data)
    return data


def article_task_data(article: dict[str, Any]) -> dict[str, Any]:
    """Task data for a news article (see :func:`read_articles`)."""
    data = {
        "kind": "article",
        "article_id": str(article["id"]),
        "title": article.get("title") or "",
        "date": article.get("date") or "",
        "url": article.get("url") or "",
        "publisher": article.get("publisher") or "",
        "language": article.get("language") or "",
        "text": article["text"],
    }
    data["source_html"] = _source_html(data["date"], data["publisher"], data["url"])
    data["btr_hash"] = _digest(data)
    return data


def _task_key(data: dict[str, Any]) -> str | None:
    if data.get("kind") == "case" and data.get("case_id"):
        return f"case:{data['case_id']}"
    if data.get("kind") == "article" and data.get("article_id"):
        return f"article:{data['article_id']}"
    return None


def read_articles(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL file of articles: ``id`` and ``text`` required; ``title``, ``date``, ``url``,
    ``publisher``, ``language`` optional. Raises :class:`DataError` naming file, line and field."""
    from btr.corpus import iter_records

    articles, problems, seen = [], [], {}
    for line, record, bad in iter_records(path):
        problems += bad
        if record is None:
            continue
        for key in ("id", "text"):
            if not str(record.get(key) or "").strip():
                problems.append(Problem(str(path), line, key, "missing or empty"))
        if problems and problems[-1].line == line:
            continue
        aid = str(record["id"])
        if aid in seen:
            problems.append(
                Problem(str(path), line, "id", f"duplicate id {aid!r} (first on line {seen[aid]})")
            )
            continue
        seen[aid] = line
        articles.append(record)
    if problems:
        raise DataError(problems, f"{path}: {len(problems)} problem(s) in the articles")
    return articles


# ----------------------------------------------------------------------------- connection


@contextlib.contextmanager
def _service(url: str, what: str) -> Iterator[None]:
    """Turn the SDK's and httpx's exceptions into one clear :class:`ServiceError` line."""
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    try:
        yield
    except ApiError as err:
        if err.status_code == 401:
            raise ServiceError(
                f"Label Studio at {url} rejected the API key (401): check LABEL_STUDIO_API_KEY"
            ) from None
        if err.status_code == 403:
            raise ServiceError(
                f"Label Studio at {url} refused {what} (403): the API key lacks permission"
            ) from None
        raise ServiceError(
            f"Label Studio at {url} refused {what} ({err.status_code}): {_body_message(err.body)}"
        ) from None
    except (httpx.ConnectError, httpx.ConnectTimeout) as err:
        raise ServiceError(
            f"Label Studio is unreachable at {url}: {err}; start it with `btr annotate serve`"
        ) from None
    except httpx.HTTPError as err:
        raise ServiceError(
            f"Label Studio at {url} failed during {what}: {type(err).__name__}: {err}"
        ) from None


def _body_message(body: Any) -> str:
    if isinstance(body, dict):
        detail = body.get("validation_errors") or body.get("detail") or body
        if isinstance(detail, dict):
            detail = "; ".join(
                f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in detail.items()
            )
        return " ".join(str(detail).split())[:600]
    return " ".join(str(body).split())[:600]


@dataclass
class Connection:
    """An authenticated client; ``repr`` never shows the key."""

    url: str
    client: Any = field(repr=False)


def connect(url: str | None = None, api_key: str | None = None) -> Connection:
    """Connect to Label Studio and check the key.

    ``url`` and ``api_key`` default to ``LABEL_STUDIO_URL`` and
    ``LABEL_STUDIO_API_KEY``. Raises :class:`ServiceError` (exit 4) when the
    server is unreachable or the key is wrong; the key is never printed.
    """
    require("label_studio_sdk", "labelstudio")
    from label_studio_sdk import LabelStudio

    url = (url or os.environ.get("LABEL_STUDIO_URL") or "http://127.0.0.1:8080").rstrip("/")
    api_key = api_key or os.environ.get("LABEL_STUDIO_API_KEY")
    if not api_key:
        raise ServiceError("no Label Studio API key: set LABEL_STUDIO_API_KEY or pass --api-key")
    client = LabelStudio(base_url=url, api_key=api_key, timeout=300)
    with _service(url, "the API key check"):
        client.users.whoami()
    return Connection(url, client)


def _find_project(conn: Connection, name: str) -> int | None:
    with _service(conn.url, "the project list"):
        found = [p for p in conn.client.projects.list(title=name, page_size=100) if p.title == name]
    if len(found) > 1:
        raise ServiceError(f"{len(found)} projects are titled {name!r} on {conn.url}; rename all but one")
    return found[0].id if found else None


def _require_project(conn: Connection, name: str) -> int:
    pid = _find_project(conn, name)
    if pid is None:
        raise ServiceError(f"project {name!r} not found on {conn.url}")
    return pid


def ensure_project(conn: Connection, name: str, *, config: str | None = None) -> int:
    """Return the id of project ``name``, creating it (or updating its config) from the schema.

    ``config`` replaces the generated labeling config. A config Label Studio
    rejects raises :class:`ServiceError` with Label Studio's own message.
    """
    if not 3 <= len(name) <= 50:
        raise InputError(f"project name {name!r} must have 3 to 50 characters (a Label Studio limit)")
    config = config or labeling_config()
    instruction = "<p>" + html.escape(guidelines_summary()).replace("\n", "<br>") + "</p>"
    pid = _find_project(conn, name)
    with _service(conn.url, "the labeling config"):
        if pid is None:
            project = conn.client.projects.create(
                title=name, label_config=config, expert_instruction=instruction, show_instruction=True
            )
            return project.id
        current = conn.client.projects.get(id=pid)
        if current.label_config != config:
            conn.client.projects.update(id=pid, label_config=config, expert_instruction=instruction)
    return pid


def _list_tasks(conn: Connection, pid: int) -> dict[str, tuple[int, str]]:
    """Map each task key to ``(task id, btr_hash)``."""
    found: dict[str, tuple[int, str]] = {}
    with _service(conn.url, "the task list"):
        # id and data only: the default columns (agreement, annotators ...) take 4 times longer.
        for task in conn.client.tasks.list(
            project=pid, fields="task_only", include="id,data", page_size=1000
        ):
            data = task.data or {}
            key = _task_key(data)
            if key is not None:
                found[key] = (task.id, data.get("btr_hash", ""))
    return found


# ----------------------------------------------------------------------------- state


def _state_path(state_dir: Path, project: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", project).strip("-") or "project"
    return Path(state_dir) / f"{slug}.json"


def _load_state(path: Path, url: str | None, pid: int) -> dict[str, Any]:
    """The state of ``path``; empty when it belongs to another server (``url``) or project."""
    empty = {"url": url, "project_id": pid, "cases": {}, "articles": {}}
    if not path.exists():
        return empty
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: unreadable state file ({err}); delete it to start afresh") from err
    if (url is not None and state.get("url") != url) or state.get("project_id") != pid:
        # Another server or a recreated project: its bases say nothing about this one.
        return empty
    state.setdefault("cases", {})
    state.setdefault("articles", {})
    return state


def _write_json_atomic(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, ensure_ascii=False, indent=1, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def _get(record: dict[str, Any], path: tuple[str | int, ...]) -> Any:
    node: Any = record
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or len(node) <= part:
                return None
        elif not isinstance(node, dict):
            return None
        node = node[part] if isinstance(part, int) else node.get(part)
    return node


def _set(record: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = record
    for part, nxt in itertools.pairwise(path):
        if isinstance(part, int):
            while len(node) <= part:
                node.append({})
            node = node[part]
        else:
            if node.get(part) is None:
                node[part] = [] if isinstance(nxt, int) else {}
            node = node[part]
    node[path[-1]] = value


def _norm(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _base(record: dict[str, Any]) -> dict[str, str | None]:
    return {f.name: _norm(_get(record, f.path)) for f in _MERGED}


# ----------------------------------------------------------------------------- push


@dataclass
class PushResult:
    """What a push did; ``predictions`` counts the tasks that got pre-annotations."""

    project_id: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    predictions: int = 0
    skipped_certain: int = 0
    model_version: str | None = None


def _model_version(model: Any) -> str:
    return model.version if model.name in model.version else f"{model.name}-{model.version}"


def _model_predictions(model: Any, items: list[tuple[str, list[str]]]) -> list[dict[str, Any]]:
    """One prediction per item from its texts (probabilities averaged over a case's languages)."""
    import numpy as np

    flat = [text for _, texts in items for text in texts]
    try:
        proba = model.predict_proba(flat)
    except (AttributeError, KeyError, ValueError, TypeError) as err:
        # A model saved by another version of btr loads but cannot predict: say so instead of a traceback.
        raise ModelError(
            f"model {getattr(model, 'path', model)!r} failed to predict ({type(err).__name__}: {err}); "
            "retrain it with this version of btr"
        ) from err
    version = _model_version(model)
    out, start = [], 0
    for _, texts in items:
        stop = start + len(texts)
        result, heads = [], {}
        for head, labels in model.heads.items():
            if head not in _BY_NAME:
                continue
            p = np.asarray(proba[head][start:stop]).mean(axis=0)
            best = int(p.argmax())
            heads[head] = p
            result.append(
                {
                    "from_name": head,
                    "to_name": _TO,
                    "type": "choices",
                    "value": {"choices": [labels[best]]},
                    "score": round(float(p[best]), 4),
                }
            )
        category = heads.get("category", next(iter(heads.values())))
        out.append(
            {
                "model_version": version,
                "score": round(float(category.max()), 4),
                "result": result,
                "_p": category,
            }
        )
        start = stop
    return out


def _uncertainty(p: Any, how: str) -> float:
    import numpy as np

    if how == "entropy":
        q = np.clip(p, 1e-12, 1.0)
        return float(-(q * np.log(q)).sum())
    top = np.sort(p)[::-1]
    return float(-(top[0] - (top[1] if len(top) > 1 else 0.0)))


def push(
    project: str,
    *,
    cases: str | Path | None = None,
    articles: str | Path | None = None,
    model: str | Path | None = None,
    only_uncertain: int | None = None,
    uncertainty: str = "margin",
    url: str | None = None,
    api_key: str | None = None,
    state_dir: str | Path = STATE_DIR,
    batch_size: int = 500,
    quiet: bool | None = None,
) -> PushResult:
    """Create the project if needed and import cases or articles as tasks, idempotently.

    Parameters
    ----------
    project : str
        Project title.
    cases, articles : path, optional
        A corpus JSONL (default: the corpus) or a JSONL of articles (see
        :func:`read_articles`); not both.
    model : path, optional
        A model directory (:func:`btr.models.load_model`); its predictions
        become pre-annotations with its version and score.
    only_uncertain : int, optional
        Import only the N new items the model is least sure of about
        ``category`` (``uncertainty``: ``margin`` or ``entropy``).
    url, api_key : str, optional
        Default to ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY``.
    state_dir : path
        Where the state file goes (see the module docstring).

    Returns
    -------
    PushResult
    """
    from tqdm import tqdm

    from btr.corpus import DEFAULT_CORPUS, load_cases

    if cases is not None and articles is not None:
        raise InputError("give --cases or --articles, not both")
    if only_uncertain is not None and model is None:
        raise InputError("--only-uncertain needs a model to be uncertain (--model)")
    if uncertainty not in ("margin", "entropy"):
        raise InputError(f"unknown uncertainty {uncertainty!r}; use margin or entropy")
    quiet = os.environ.get("BTR_QUIET") == "1" if quiet is None else quiet

    loaded = None
    if model is not None:
        from btr.models import load_model

        loaded = load_model(model)
    records: list[tuple[dict[str, Any], list[str], dict[str, Any] | None]] = []
    if articles is not None:
        for article in read_articles(articles):
            records.append((article_task_data(article), [article["text"]], None))
    else:
        for case in load_cases(cases or DEFAULT_CORPUS):
            records.append((case_task_data(case), [text for _, text in case.text.items()], case.to_json()))

    conn = connect(url, api_key)
    pid = ensure_project(conn, project)
    existing = _list_tasks(conn, pid)
    state_file = _state_path(Path(state_dir), project)
    state = _load_state(state_file, conn.url, pid)
    result = PushResult(project_id=pid)

    new, changed = [], []
    for data, texts, record in records:
        key = _task_key(data)
        if key not in existing:
            new.append((data, texts, record))
        elif existing[key][1] != data["btr_hash"]:
            changed.append((existing[key][0], data, texts, record))
        else:
            result.unchanged += 1
            if record is not None and record["id"] not in state["cases"]:
                state["cases"][record["id"]] = {"task_id": existing[key][0], "base": _base(record)}

    predictions: dict[str, dict[str, Any]] = {}
    if loaded is not None and (new or changed):
        todo = [(_task_key(d), t) for d, t, _ in new] + [(_task_key(d), t) for _, d, t, _ in changed]
        for (key, _), pred in zip(todo, _model_predictions(loaded, todo), strict=True):
            predictions[key] = pred
        result.model_version = _model_version(loaded)
        if only_uncertain is not None:
            ranked = sorted(new, key=lambda r: -_uncertainty(predictions[_task_key(r[0])]["_p"], uncertainty))
            result.skipped_certain = max(0, len(new) - only_uncertain)
            new = ranked[:only_uncertain]

    def clean(pred: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in pred.items() if k != "_p"}

    bar = tqdm(
        total=len(new) + len(changed),
        desc="push",
        unit="task",
        disable=quiet or not (new or changed),
        file=sys.stderr,
    )
    with _service(conn.url, "the task import"):
        for start in range(0, len(new), batch_size):
            batch = new[start : start + batch_size]
            payload = []
            for data, _, _ in batch:
                task: dict[str, Any] = {"data": data}
                if _task_key(data) in predictions:
                    task["predictions"] = [clean(predictions[_task_key(data)])]
                payload.append(task)
            response = conn.client.projects.import_tasks(id=pid, request=payload, return_task_ids=True)
            ids = list(response.task_ids or [])
            for (_, _, record), task_id in zip(batch, ids, strict=True):
                if record is not None:
                    state["cases"][record["id"]] = {"task_id": task_id, "base": _base(record)}
            result.created += len(batch)
            result.predictions += sum(_task_key(d) in predictions for d, _, _ in batch)
            bar.update(len(batch))
        for task_id, data, _, record in changed:
            conn.client.tasks.update(id=str(task_id), data=data)
            if _task_key(data) in predictions:
                pred = clean(predictions[_task_key(data)])
                conn.client.predictions.create(task=task_id, **pred)
                result.predictions += 1
            if record is not None:
                # The base is the last point where labels were in sync with Label Studio; a new
                # text does not move it, or a later pull would take a label edited locally since
                # for unchanged and overwrite it.
                known = state["cases"].get(record["id"])
                base = known["base"] if known and known.get("task_id") == task_id else _base(record)
                state["cases"][record["id"]] = {"task_id": task_id, "base": base}
            result.updated += 1
            bar.update(1)
    bar.close()
    _write_json_atomic(state_file, state)
    return result


# ----------------------------------------------------------------------------- export parsing


def _result_values(result: list[dict[str, Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in result or []:
        name, value = item.get("from_name"), item.get("value") or {}
        if name not in _BY_NAME and name != "notes":
            continue
        if value.get("choices"):
            values[name] = str(value["choices"][0])
        elif "text" in value:
            text = value["text"]
            text = "\n".join(map(str, text)) if isinstance(text, list) else str(text)
            if text.strip():
                values[name] = text.strip()
        elif "number" in value and value["number"] is not None:
            values[name] = int(value["number"])
    return values


def _annotator(annotation: dict[str, Any], users: dict[int, str]) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        return who.get("email") or str(who.get("id"))
    return users.get(who, f"user-{who}")


def _latest_annotations(task: dict[str, Any], users: dict[int, str]) -> tuple[dict[str, dict[str, Any]], int]:
    """The latest kept annotation per annotator, and how many were dropped as skipped or cancelled."""
    latest: dict[str, dict[str, Any]] = {}
    dropped = 0
    for annotation in task.get("annotations") or []:
        if annotation.get("was_cancelled") or not annotation.get("result"):
            dropped += 1
            continue
        who = _annotator(annotation, users)
        stamp = (
            annotation.get("updated_at") or annotation.get("created_at") or "",
            annotation.get("id") or 0,
        )
        if who not in latest or stamp >= latest[who]["_stamp"]:
            latest[who] = {
                "_stamp": stamp,
                "ground_truth": bool(annotation.get("ground_truth")),
                "values": _result_values(annotation["result"]),
            }
    return latest, dropped


def _item_id(task: dict[str, Any]) -> str:
    data = task.get("data") or {}
    return _task_key(data) or f"task:{task.get('id')}"


def export_ratings(
    tasks: Iterable[dict[str, Any]], users: dict[int, str] | None = None
) -> list[tuple[str, str, str, str]]:
    """The long table ``(item, annotator, field, label)`` of every choice in a full JSON export."""
    rows = []
    for task in tasks:
        latest, _ = _latest_annotations(task, users or {})
        for who, annotation in latest.items():
            for name, value in annotation["values"].items():
                if name in _CHOICE_FIELDS:
                    rows.append((_item_id(task), who, name, str(value)))
    return rows


def _adjudicate(
    latest: dict[str, dict[str, Any]], name: str, *, free_text: bool = False
) -> tuple[Any, dict[str, Any]]:
    """The value of one field by the adjudication rule, or None; with each annotator's value.

    ``free_text`` fields (what an annotator writes for a new case: names,
    posts, summaries) rarely match word for word: without a ground truth the
    latest annotation's text is taken, and the new case stays unverified.
    """
    votes = {who: a["values"][name] for who, a in latest.items() if name in a["values"]}
    if not votes:
        return None, votes
    starred = [a for a in latest.values() if a["ground_truth"] and name in a["values"]]
    pool = [a["values"][name] for a in starred] or list(votes.values())
    value, count = Counter(map(str, pool)).most_common(1)[0]
    if count * 2 > len(pool):
        return next(v for v in pool if str(v) == value), votes
    if free_text:
        newest = max(
            starred or [a for a in latest.values() if name in a["values"]], key=lambda a: a["_stamp"]
        )
        return newest["values"][name], votes
    return _DISAGREE, votes


def _notes(latest: dict[str, dict[str, Any]]) -> list[str]:
    """Every annotator's note, signed (notes are kept, never adjudicated)."""
    return [
        f"[{who}] {a['values']['notes']}" for who, a in sorted(latest.items()) if a["values"].get("notes")
    ]


_DISAGREE = object()


# ----------------------------------------------------------------------------- pull


@dataclass
class PullResult:
    """What a pull did. ``conflicts`` are also written to ``conflicts_path``."""

    tasks: int = 0  # tasks exported: those with an annotation that is not skipped
    annotated_tasks: int = 0
    dropped_annotations: int = 0
    updated_cases: list[str] = field(default_factory=list)
    new_cases: list[str] = field(default_factory=list)
    articles_not_cases: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    conflicts_path: Path | None = None
    written: Path | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _new_case_id(values: dict[str, Any], data: dict[str, Any], taken: set[str]) -> str:
    year = ""
    for name in ("event_date", "announced"):
        if values.get(name):
            year = str(values[name])[:4]
            break
    year = year or str(data.get("date") or "")[:4] or "0000"
    base = f"{str(values.get('country', 'xx')).lower()}-{year}-{_slug(str(values.get('official_name_en', 'unknown')))}"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _case_from_article(
    data: dict[str, Any], values: dict[str, Any], case_id: str, task_id: int
) -> dict[str, Any]:
    record: dict[str, Any] = {"id": case_id, "event_id": values.get("event_id") or case_id}
    for f in FIELDS:
        if f.name in values and f.name != "event_id":
            _set(record, f.path, values[f.name])
    source = {
        "url": data.get("url") or None,
        "publisher": data.get("publisher") or None,
        "title": data.get("title") or None,
    }
    if data.get("date"):
        source["date"] = data["date"]
    if data.get("language") in label_names(Language):
        source["language"] = data["language"]
    record["sources"] = [source]
    record["curation"] = {
        "verified": False,
        "notes": f"From article {data.get('article_id')} (Label Studio task {task_id}).",
        "annotations": [],
    }
    return record


def _annotations_for(latest: dict[str, dict[str, Any]], blind: bool) -> list[dict[str, Any]]:
    # heads added after an annotation was made (exit_status) are optional in Annotation
    required = [h for h in HEADS if Annotation.model_fields[h].is_required()]
    out = []
    for who, a in sorted(latest.items()):
        if all(head in a["values"] for head in required):
            annotation = Annotation(
                annotator=who,
                **{h: a["values"][h] for h in HEADS if h in a["values"]},
                origin="label_studio",
                blind=blind,
            )
            # serialised as the corpus writes it, so that a second pull compares equal
            out.append(annotation.model_dump(mode="json"))
    return out


def _validation_message(err: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(err, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in err.errors())
    return str(err)


def pull(
    project: str,
    *,
    into: str | Path | None = None,
    export: str | Path | None = None,
    conflicts: str | Path | None = None,
    url: str | None = None,
    api_key: str | None = None,
    state_dir: str | Path = STATE_DIR,
) -> PullResult:
    """Export the project's annotations (full JSON) and merge them into the corpus atomically.

    Agreeing annotations become labels; the adjudication rule and the
    three-way merge with local edits are in the module docstring. Annotations
    with all four heads are also kept in ``curation.annotations``
    (``origin="label_studio"``). An article task whose annotations name the
    official becomes a new case with the article as its source.

    Parameters
    ----------
    project : str
        Project title.
    into : path, optional
        The corpus to merge into (default: the corpus).
    export : path, optional
        Merge a saved full JSON export instead of asking the server.
    conflicts : path, optional
        Conflicts file (default ``<state_dir>/<project>.conflicts.jsonl``).

    Returns
    -------
    PullResult
        The caller decides what conflicts mean (the CLI exits with 3).
    """
    from pydantic import ValidationError

    from btr.corpus import DEFAULT_CORPUS, load_cases, write_cases

    into = Path(into or DEFAULT_CORPUS)
    if export is not None:
        # A saved export says which project it came from, not which server: the state is matched by project id.
        tasks, users = _read_export(export), {}
        state_url, pid = None, next((t.get("project") for t in tasks if t.get("project")), 0)
    else:
        conn = connect(url, api_key)
        pid = _require_project(conn, project)
        tasks, users = _export(conn, pid)
        state_url = conn.url
    state_file = _state_path(Path(state_dir), project)
    state = _load_state(state_file, state_url, pid)
    conflicts_path = Path(conflicts) if conflicts else state_file.with_suffix(".conflicts.jsonl")

    loaded = {case.id: case for case in (load_cases(into) if into.exists() else [])}
    local = {cid: case.to_json() for cid, case in loaded.items()}
    original = {cid: json.dumps(rec, sort_keys=True) for cid, rec in local.items()}
    result = PullResult(tasks=len(tasks), conflicts_path=conflicts_path)

    def conflict(kind: str, cid: str | None, task: dict[str, Any], **extra: Any) -> None:
        result.conflicts.append({"kind": kind, "id": cid, "task_id": task.get("id"), **extra})

    for task in tasks:
        data = task.get("data") or {}
        latest, dropped = _latest_annotations(task, users)
        result.dropped_annotations += dropped
        if not latest:
            continue
        result.annotated_tasks += 1
        decided: dict[str, Any] = {}
        for name, spec in _BY_NAME.items():
            free_text = spec.new_case_only and spec.kind == "text" and data.get("kind") == "article"
            value, votes = _adjudicate(latest, name, free_text=free_text)
            if value is _DISAGREE:
                conflict(
                    "disagreement",
                    data.get("case_id") or data.get("article_id"),
                    task,
                    field=name,
                    annotations=votes,
                )
            elif value is not None:
                decided[name] = value
        blind = not task.get("predictions")

        if data.get("kind") == "article":
            aid = str(data.get("article_id"))
            cid = state["articles"].get(aid)
            if cid is None:
                if not decided.get("official_name_en"):
                    result.articles_not_cases += 1
                    continue
                cid = _new_case_id(decided, data, set(local))
                record = _case_from_article(data, decided, cid, task.get("id"))
                record["curation"]["annotations"] = _annotations_for(latest, blind)
                record["curation"]["notes"] = "\n".join([record["curation"]["notes"], *_notes(latest)])
                try:
                    Case.model_validate(record)
                except ValidationError as err:
                    conflict(
                        "invalid",
                        None,
                        task,
                        article_id=aid,
                        message=f"cannot make a case: {_validation_message(err)}",
                    )
                    continue
                local[cid] = record
                state["articles"][aid] = cid
                state["cases"][cid] = {"task_id": task.get("id"), "base": _base(record)}
                result.new_cases.append(cid)
                continue
        else:
            cid = data.get("case_id")
        if cid not in local:
            conflict(
                "deleted_locally",
                cid,
                task,
                message="the case is no longer in the corpus; its annotations were not merged",
            )
            continue

        record = json.loads(json.dumps(local[cid]))
        entry = state["cases"].setdefault(cid, {"task_id": task.get("id"), "base": {}})
        base = entry.get("base") or {}
        for f in _MERGED:
            remote = _norm(decided.get(f.name))
            if remote is None:
                continue
            mine = _norm(_get(record, f.path))
            if remote == mine:
                continue
            if f.name in base and base[f.name] == remote:
                continue  # seen before: the local value is a deliberate edit
            if f.name in base and base[f.name] == mine:
                _set(record, f.path, decided[f.name])
                continue
            conflict("local_edit", cid, task, field=f.name, local=mine, remote=remote, base=base.get(f.name))
            base[f.name] = remote
        kept = [a for a in record["curation"]["annotations"] if a.get("origin") != "label_studio"]
        fresh = _annotations_for(latest, blind)
        others = [a for a in record["curation"]["annotations"] if a.get("origin") == "label_studio"]
        others = [a for a in others if a["annotator"] not in {b["annotator"] for b in fresh}]
        record["curation"]["annotations"] = kept + others + fresh
        for note in _notes(latest):
            if note not in record["curation"]["notes"]:
                record["curation"]["notes"] = f"{record['curation']['notes']}\n{note}".strip()
        try:
            Case.model_validate(record)
        except ValidationError as err:
            conflict(
                "invalid",
                cid,
                task,
                message=f"merged record fails validation, kept as it was: {_validation_message(err)}",
            )
            entry["base"] = base
            continue
        local[cid] = record
        entry["base"] = {
            **_base(record),
            **{k: v for k, v in base.items() if _norm(_get(record, _BY_NAME[k].path)) != v},
        }

    changed = [cid for cid, rec in local.items() if original.get(cid) != json.dumps(rec, sort_keys=True)]
    result.updated_cases = sorted(cid for cid in changed if cid in original)
    if changed:
        redo = set(changed)
        merged = [Case.model_validate(rec) if cid in redo else loaded[cid] for cid, rec in local.items()]
        result.written = write_cases(merged, into)
    if state["url"] is not None:
        _write_json_atomic(state_file, state)
    if result.conflicts:
        conflicts_path.parent.mkdir(parents=True, exist_ok=True)
        conflicts_path.write_text(
            "".join(
                json.dumps(c, ensure_ascii=False, sort_keys=True, default=str) + "\n"
                for c in result.conflicts
            ),
            encoding="utf-8",
        )
    else:
        conflicts_path.unlink(missing_ok=True)
    return result


def _users(conn: Connection) -> dict[int, str]:
    with _service(conn.url, "the user list"):
        return {u.id: (u.email or u.username or f"user-{u.id}") for u in conn.client.users.list()}


def _export(
    conn: Connection, pid: int, *, annotated_only: bool = True, timeout: float = 600
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """A full JSON export through a snapshot (the direct export lists predictions by id only).

    With ``annotated_only`` (what pull and agreement need) only the tasks with
    at least one annotation that is not skipped are exported, filtered by the
    server: far faster when few of many tasks are annotated. Skipped and
    ground-truth annotations of those tasks are included.
    """
    exports = conn.client.projects.exports
    with _service(conn.url, "the export"):
        snap = exports.create(
            id=pid,
            title="btr pull",
            serialization_options={
                "predictions": {"only_id": False},
                "annotations__completed_by": {"only_id": False},
            },
            annotation_filter_options={"usual": True, "ground_truth": True, "skipped": True},
            **({"task_filter_options": {"annotated": "only"}} if annotated_only else {}),
        )
        began = time.monotonic()
        while snap.status not in ("completed", "failed"):
            if time.monotonic() - began > timeout:
                raise ServiceError(
                    f"Label Studio at {conn.url} did not finish the export within {timeout:.0f} s"
                )
            time.sleep(0.2)
            snap = exports.get(id=pid, export_pk=snap.id)
        if snap.status == "failed":
            raise ServiceError(f"Label Studio at {conn.url} failed to export project {pid}")
        blob = b"".join(exports.download(id=pid, export_pk=snap.id, export_type="JSON"))
        exports.delete(id=pid, export_pk=snap.id)
    return json.loads(blob), _users(conn)


def _read_export(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a Label Studio JSON export ({err})") from err
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise InputError(f"{path}: not a Label Studio full JSON export (expected a list of tasks)")
    return tasks


def agreement_report(
    project: str | None = None,
    *,
    export: str | Path | None = None,
    url: str | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    """Agreement (:func:`btr.agreement.agreement`) on a project's annotations or on a full JSON export."""
    from btr.agreement import agreement

    if export is not None:
        tasks, users = _read_export(export), {}
    elif project:
        conn = connect(url, api_key)
        tasks, users = _export(conn, _require_project(conn, project))
    else:
        raise InputError("give --project or --export")
    return agreement(export_ratings(tasks, users))


# ----------------------------------------------------------------------------- serve


@dataclass
class ServeInfo:
    """What ``serve`` tells the user once the server is up (the API token is not part of it)."""

    url: str
    username: str
    password: str
    project: str
    project_url: str
    push: PushResult | None
    data_dir: Path
    startup_seconds: float


def _credentials(data_dir: Path) -> dict[str, str]:
    """The local admin login and API token, made once per data directory and kept there (mode 0600)."""
    path = data_dir / "btr-credentials.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    data_dir.mkdir(parents=True, exist_ok=True)
    creds = {
        "username": "admin@btr.local",
        "password": secrets.token_urlsafe(12),
        "token": secrets.token_hex(20),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(creds, handle)
    return creds


def serve(
    *,
    project: str = "btr",
    data_dir: str | Path = SERVE_DIR,
    port: int | None = 8080,
    cases: str | Path | None = None,
    model: str | Path | None = None,
    state_dir: str | Path = STATE_DIR,
    on_ready: Callable[[ServeInfo], None] | None = None,
    wait: bool = True,
) -> ServeInfo:
    """Start a local Label Studio, create the project, push the corpus, and run until interrupted.

    Pre-annotations come from ``model`` (the CLI passes ``models/default`` when it exists).
    Annotations stay in ``data_dir`` (default ``.label-studio/``) across runs.
    ``on_ready`` is called once the project is filled; with ``wait`` the call
    blocks until SIGINT or SIGTERM, then stops the server with SIGTERM.
    """
    from btr.server import LabelStudioServer

    data_dir = Path(data_dir)
    creds = _credentials(data_dir)
    if port is not None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                port = None  # busy: take a free one rather than Label Studio's silent port+1
    server = LabelStudioServer(
        data_dir, username=creds["username"], password=creds["password"], token=creds["token"], port=port
    )
    stop_requested = False

    def _stop(signum: int, frame: Any) -> None:
        nonlocal stop_requested
        stop_requested = True

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        pushed = push(
            project, cases=cases, model=model, url=server.url, api_key=creds["token"], state_dir=state_dir
        )
        info = ServeInfo(
            url=server.url,
            username=creds["username"],
            password=creds["password"],
            project=project,
            project_url=f"{server.url}/projects/{pushed.project_id}/data",
            push=pushed,
            data_dir=data_dir,
            startup_seconds=server.startup_seconds or 0.0,
        )
        if on_ready is not None:
            on_ready(info)
        while wait and not stop_requested and server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
        return info
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
