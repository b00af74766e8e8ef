"""Read, validate, write, summarise, split and export the case corpus.

The corpus is ``corpus/cases.jsonl``: one :class:`~btr.schema.Case` per line,
sorted by id, UTF-8, keys in schema order. Writes are atomic.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from btr.errors import DataError, InputError, Problem
from btr.files import atomic_writer, parse_json_line, set_path, validation_messages
from btr.paths import DEFAULT_CORPUS, DEFAULT_EXITS, DEFAULT_NEWS, DEFAULT_NEWS_TRAIN, DEFAULT_UNRELATED
from btr.schema import (
    HEADS,
    REQUIRED_TEXT_LANGUAGES,
    TEXT_LANGUAGES,
    UNRELATED_LABELS,
    Case,
    ExitText,
    NewsArticle,
    UnrelatedText,
    label_names,
)

__all__ = [
    "DEFAULT_CORPUS",
    "DEFAULT_EXITS",
    "DEFAULT_NEWS",
    "DEFAULT_UNRELATED",
    "adjudicate",
    "case_rows",
    "corpus_hash",
    "decade",
    "export",
    "features",
    "iter_records",
    "load_cases",
    "load_dataset",
    "load_exits",
    "load_news",
    "load_news_train",
    "load_unrelated",
    "merge",
    "news_rows",
    "record_model",
    "split_cases",
    "stats",
    "stats_markdown",
    "unrelated_rows",
    "validate",
    "write_cases",
]

# The checked-in files (btr.paths): the cases (``BTR_CORPUS`` overrides them), the news-style
# texts that report no exit and those about exits that name no one (both trained on), and the
# news articles about events outside the corpus (for evaluation only: never trained on).

SPLITS = ("train", "validation", "test")


def iter_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | None, list[Problem]]]:
    """Yield ``(line_number, record_or_None, problems)`` for each non-blank line.

    Undecodable bytes and malformed JSON become problems on their line rather
    than exceptions, so that one bad line never hides the others.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    name = str(path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            record, why = parse_json_line(raw)
            yield number, record, [Problem(name, number, "", why)] if why else []


def record_model(path: str | Path) -> type[Case] | type[UnrelatedText] | type[ExitText] | type[NewsArticle]:
    """The record model of a corpus file, from its name: ``unrelated*.jsonl`` holds
    :class:`~btr.schema.UnrelatedText`, ``exits*.jsonl`` :class:`~btr.schema.ExitText`,
    ``news*.jsonl`` :class:`~btr.schema.NewsArticle`, any other file :class:`~btr.schema.Case`."""
    name = Path(path).name
    if name.startswith("unrelated"):
        return UnrelatedText
    if name.startswith("exits"):
        return ExitText
    if name.startswith("news"):
        return NewsArticle
    return Case


def _parse(record: dict[str, Any], file: str, line: int, model: type = Case) -> tuple[Any, list[Problem]]:
    try:
        parsed = model.model_validate(record)
        return parsed, _cross_language_problems(parsed, file, line) if model is Case else []
    except ValidationError as err:
        return None, [Problem(file, line, where, message) for where, message in validation_messages(err)]


_YEAR_RE = re.compile(r"(?<![0-9])(1[89][0-9]{2}|20[0-9]{2})(?![0-9])")
_NUMBER_RE = re.compile(r"(?<![0-9.,])[0-9]{1,3}(?:[,.\u00a0 ][0-9]{3})*(?![0-9])")


def _numbers(text: str) -> set[int]:
    return {int(re.sub(r"[^0-9]", "", m)) for m in _NUMBER_RE.findall(text)}


def _cross_language_problems(case: Case, file: str, line: int) -> list[Problem]:
    """Facts that can be checked mechanically must agree between ``en`` and the texts added in the
    languages of the cases' countries: the years named, the numbers of deaths and injured where
    the English text gives them in digits, and the official's name in the text's script."""
    problems: list[Problem] = []
    en = case.text.en
    years = set(_YEAR_RE.findall(en))
    tolls = [n for n in (case.event.deaths, case.event.injured) if n is not None and n >= 10]
    tolls = [n for n in tolls if n in _numbers(en)]
    for lang, text in case.text.items():
        if lang in REQUIRED_TEXT_LANGUAGES:
            continue  # the two required texts were written together and checked by hand
        field = f"text.{lang}"
        missing = sorted(years - set(_YEAR_RE.findall(text)))
        if missing:
            problems.append(
                Problem(file, line, field, f"years in text.en not in {field}: {', '.join(missing)}")
            )
        absent = [n for n in tolls if n not in _numbers(text)]
        if absent:
            problems.append(Problem(file, line, field, f"deaths/injured in text.en not in {field}: {absent}"))
        name = case.official.name
        if _script(name) == _script(text) and _script(name) != "latin":
            if name.replace(" ", "") not in text.replace(" ", ""):
                problems.append(Problem(file, line, field, f"the official's name {name!r} is not in {field}"))
        elif _script(text) == "latin":
            family = case.official.name_en.split()[-1] if case.official.name_en.split() else ""
            if family and family.lower() not in text.lower() and family.lower() not in name.lower():
                problems.append(
                    Problem(file, line, field, f"the official's name {family!r} is not in {field}")
                )
    return problems


def _script(text: str) -> str:
    """The main script of a text: ``hangul``, ``kana`` (Japanese), ``han``, ``cyrillic`` or ``latin``."""
    counts = Counter()
    for char in text:
        code = ord(char)
        if 0xAC00 <= code <= 0xD7AF:
            counts["hangul"] += 1
        elif 0x3040 <= code <= 0x30FF:
            counts["kana"] += 1
        elif 0x4E00 <= code <= 0x9FFF:
            counts["han"] += 1
        elif 0x0400 <= code <= 0x04FF:
            counts["cyrillic"] += 1
        elif char.isalpha():
            counts["latin"] += 1
    if counts["kana"]:
        return "kana" if counts["kana"] * 10 >= counts["han"] else "han"
    return counts.most_common(1)[0][0] if counts else "latin"


def _check(path: str | Path, model: type | None = None) -> tuple[list[tuple[int, Any]], list[Problem]]:
    model = model or record_model(path)
    cases: list[tuple[int, Any]] = []
    problems: list[Problem] = []
    first_seen: dict[str, int] = {}
    name = str(path)
    for number, record, bad in iter_records(path):
        problems += bad
        if record is None:
            continue
        case, bad = _parse(record, name, number, model)
        problems += bad
        if case is None:
            continue
        if case.id in first_seen:
            problems.append(
                Problem(name, number, "id", f"duplicate id {case.id!r} (first on line {first_seen[case.id]})")
            )
            continue
        first_seen[case.id] = number
        cases.append((number, case))
    return cases, problems


def validate(path: str | Path = DEFAULT_CORPUS) -> list[Problem]:
    """Validate a corpus file and return every problem found (empty when clean).

    Parameters
    ----------
    path : str or Path
        A JSONL file of cases.

    Returns
    -------
    list of Problem
        Each with the file, the line, the field path and a message.

    Examples
    --------
    >>> validate("corpus/cases.jsonl")
    []
    """
    return _check(path)[1]


def load_cases(path: str | Path = DEFAULT_CORPUS) -> list[Case]:
    """Load and validate a corpus; raise :class:`~btr.errors.DataError` on any problem."""
    cases, problems = _check(path, Case)
    if problems:
        raise DataError(problems, f"{path}: {len(problems)} problem(s); run `btr corpus validate {path}`")
    return [case for _, case in cases]


def _dump_line(case: Case) -> str:
    return json.dumps(case.to_json(), ensure_ascii=False, separators=(", ", ": "))


def write_cases(cases: Iterable[Case], path: str | Path = DEFAULT_CORPUS) -> Path:
    """Write cases sorted by id, one per line, atomically (temporary file, then rename).

    Raises :class:`~btr.errors.DataError` on duplicate ids, so that a merge
    bug can never silently drop a case.
    """
    path = Path(path)
    ordered = sorted(cases, key=lambda c: c.id)
    dupes = [cid for cid, n in Counter(c.id for c in ordered).items() if n > 1]
    if dupes:
        raise DataError([Problem(str(path), None, "id", f"duplicate id {d!r}") for d in dupes])
    with atomic_writer(path) as handle:
        for case in ordered:
            handle.write(_dump_line(case) + "\n")
    return path


def merge(
    sources: Iterable[str | Path], *, into: str | Path = DEFAULT_CORPUS, replace: bool = False
) -> dict[str, list[str]]:
    """Validate staged case files and merge them into the corpus atomically.

    Parameters
    ----------
    sources : iterable of path
        JSONL files of cases (for example a curator's staging file).
    into : path
        The corpus to merge into; created if missing.
    replace : bool
        Replace a case whose id is already in the corpus. Without it, a
        different record under an existing id is an error, so that nothing is
        overwritten silently.

    Returns
    -------
    dict
        ``{"added": [...], "replaced": [...], "unchanged": [...]}`` case ids.

    Raises
    ------
    DataError
        If any source has a problem or an id clashes; nothing is written then.
    """
    into = Path(into)
    current = {c.id: c for c in load_cases(into)} if into.exists() else {}
    problems: list[Problem] = []
    incoming: dict[str, tuple[Case, str]] = {}
    for source in sources:
        cases, bad = _check(source, Case)
        problems += bad
        for number, case in cases:
            where = f"{source}:{number}"
            if case.id in incoming:
                problems.append(
                    Problem(str(source), number, "id", f"{case.id!r} also in {incoming[case.id][1]}")
                )
                continue
            incoming[case.id] = (case, where)
    report: dict[str, list[str]] = {"added": [], "replaced": [], "unchanged": []}
    for cid, (case, where) in sorted(incoming.items()):
        old = current.get(cid)
        if old is None:
            report["added"].append(cid)
        elif old == case:
            report["unchanged"].append(cid)
        elif replace:
            report["replaced"].append(cid)
        else:
            file, _, line = where.rpartition(":")
            problems.append(
                Problem(file, int(line), "id", f"{cid!r} already in {into} with other content; use --replace")
            )
    if problems:
        raise DataError(problems, f"nothing merged: {len(problems)} problem(s)")
    current.update({cid: case for cid, (case, _) in incoming.items()})
    write_cases(current.values(), into)
    return report


def adjudicate(
    decisions: str | Path, *, into: str | Path = DEFAULT_CORPUS, by: str = "lead"
) -> dict[str, list[str]]:
    """Apply a file of adjudication decisions to the corpus, atomically.

    The file is JSON: ``{"date": "YYYY-MM-DD", "decisions": {case_id: {field: value, ...,
    "rule": "guideline rule", "why": "reason"}}}``. A field is a top-level name or a dotted path
    (``procedure.reason_stated``, ``followup.posts``). Each case that changes gets a note
    ``ADJUDICATED (by, date): old -> new per rule; why`` in ``curation.notes``. Applying the same
    file twice changes nothing.

    Returns
    -------
    dict
        ``{"changed": [...], "unchanged": [...], "missing": [...]}`` case ids.
    """
    spec = json.loads(Path(decisions).read_text(encoding="utf-8"))
    date = spec.get("date", "")
    cases = {c.id: c for c in load_cases(into)}
    report: dict[str, list[str]] = {"changed": [], "unchanged": [], "missing": []}
    problems: list[Problem] = []
    for cid, decision in spec["decisions"].items():
        if cid not in cases:
            report["missing"].append(cid)
            continue
        decision = dict(decision)
        rule, why = decision.pop("rule", ""), decision.pop("why", "")
        record = cases[cid].to_json()
        changes = []
        for dotted, value in decision.items():
            old = set_path(record, dotted, value)
            if old != value:
                changes.append(
                    f"{dotted} {json.dumps(old, ensure_ascii=False)[:60]} -> {json.dumps(value, ensure_ascii=False)[:60]}"
                )
        if not changes:
            report["unchanged"].append(cid)
            continue
        record["curation"]["notes"] += (
            f" ADJUDICATED ({by}, {date}): {'; '.join(changes)}"
            + (f" per guideline {rule}" if rule else "")
            + (f"; {why}" if why else "")
            + "."
        )
        case, bad = _parse(record, str(decisions), 0)
        problems += [Problem(p.file, None, f"{cid}.{p.field}", p.message) for p in bad]
        if case is not None:
            cases[cid] = case
            report["changed"].append(cid)
    if problems:
        raise DataError(problems, f"nothing adjudicated: {len(problems)} problem(s) in {decisions}")
    write_cases(cases.values(), into)
    return report


def corpus_hash(path: str | Path = DEFAULT_CORPUS) -> str:
    """SHA-256 of the corpus file, recorded in model metadata."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def decade(case: Case) -> str:
    """The decade of a case's event (else of its announcement), e.g. ``2000s``; ``unknown`` if undated."""
    date = case.event.date or case.procedure.announced
    return f"{date.year // 10 * 10}s" if date else "unknown"


#: Fields counted by :func:`stats`, each a function of a case.
_STAT_FIELDS = {
    "category": lambda c: c.category.value,
    "country": lambda c: c.country,
    "trigger": lambda c: c.trigger.value,
    "responsibility": lambda c: c.responsibility.value,
    "initiation": lambda c: c.initiation.value,
    "followup_status": lambda c: c.followup.status.value,
    "decade": decade,
    "level": lambda c: c.official.level.value,
}


def stats(cases: Iterable[Case]) -> dict[str, Any]:
    """Count cases by category, country, trigger, responsibility, initiation,
    follow-up status, decade and level, with the share of verified cases.

    Returns
    -------
    dict
        ``{"cases": n, "verified": k, "verified_share": k / n, "sources": s,
        "events": e, "by": {field: {label: count}}}``.
    """
    cases = list(cases)
    n = len(cases)
    verified = sum(c.curation.verified for c in cases)
    by = {name: dict(Counter(get(c) for c in cases).most_common()) for name, get in _STAT_FIELDS.items()}
    by["decade"] = dict(sorted(by["decade"].items()))
    return {
        "cases": n,
        "events": len({c.event_id for c in cases}),
        "verified": verified,
        "verified_share": round(verified / n, 4) if n else 0.0,
        "sources": len({str(s.url) for c in cases for s in c.sources}),
        "cases_with_2plus_sources": sum(len(c.sources) >= 2 for c in cases),
        "double_annotated": sum(len(c.curation.annotations) >= 1 for c in cases),
        "by": by,
    }


def stats_markdown(summary: dict[str, Any]) -> str:
    """Render :func:`stats` output as Markdown tables (used in DATASHEET.md)."""
    lines = [
        f"Cases: **{summary['cases']}** in {summary['events']} events; "
        f"verified: {summary['verified']} ({summary['verified_share']:.1%}); "
        f"distinct source URLs: {summary['sources']}; "
        f"cases with two or more sources: {summary['cases_with_2plus_sources']}.",
        "",
    ]
    for name, counts in summary["by"].items():
        lines += [f"| {name} | cases |", "|---|---:|"]
        lines += [f"| {label} | {count} |" for label, count in counts.items()]
        lines.append("")
    return "\n".join(lines)


def case_rows(case: Case) -> list[dict[str, Any]]:
    """One text row per language of a case, with the head labels."""
    base = {"id": case.id, "event_id": case.event_id, "country": case.country}
    labels = {head: case.head(head) for head in HEADS}
    return [{**base, "language": lang, "text": text, **labels} for lang, text in case.text.items()]


def unrelated_rows(item: UnrelatedText | ExitText) -> list[dict[str, Any]]:
    """The one text row of an unrelated text (labels :data:`~btr.schema.UNRELATED_LABELS`) or of an
    exit text (its category, exit status and trigger; responsibility and initiation unknown);
    each is a group of its own."""
    language = item.language.value.split("-")[0]
    row = {"id": item.id, "event_id": item.id, "country": "", "language": language, "text": item.text}
    if isinstance(item, UnrelatedText):
        return [row | dict(UNRELATED_LABELS)]
    labels = {
        "category": item.category.value,
        "trigger": item.trigger.value,
        "responsibility": "unclear",
        "initiation": "unknown",
        "exit_status": item.exit_status.value,
    }
    return [row | labels]


def news_rows(article: NewsArticle, case: Case) -> list[dict[str, Any]]:
    """The one text row of a training news article: a further text of its case, with the
    case's id, event and labels (so that grouped folds keep it beside the case's summaries)."""
    return [
        {
            "id": case.id,
            "event_id": case.event_id,
            "country": case.country,
            "language": article.language.value.split("-")[0],
            "text": article.text,
            **{head: case.head(head) for head in HEADS},
        }
    ]


def load_news_train(path: str | Path = DEFAULT_NEWS_TRAIN) -> list[NewsArticle]:
    """Load and validate the training news articles (written from corpus cases); an empty list
    when the file does not exist."""
    return _load_optional(path, NewsArticle)


def load_unrelated(path: str | Path = DEFAULT_UNRELATED) -> list[UnrelatedText]:
    """Load and validate the unrelated texts; an empty list when the file does not exist."""
    return _load_optional(path, UnrelatedText)


def load_exits(path: str | Path = DEFAULT_EXITS) -> list[ExitText]:
    """Load and validate the exit training texts; an empty list when the file does not exist."""
    return _load_optional(path, ExitText)


def _load_optional(path: str | Path, model: type) -> list[Any]:
    if not Path(path).exists():
        return []
    items, problems = _check(path, model)
    if problems:
        raise DataError(problems, f"{path}: {len(problems)} problem(s); run `btr corpus validate {path}`")
    return [item for _, item in items]


def load_news(path: str | Path = DEFAULT_NEWS) -> list[NewsArticle]:
    """Load and validate a news evaluation set (:class:`~btr.schema.NewsArticle` per line)."""
    items, problems = _check(path, NewsArticle)
    if problems:
        raise DataError(problems, f"{path}: {len(problems)} problem(s); run `btr corpus validate {path}`")
    return [item for _, item in items]


def features():
    """The datasets ``Features`` of a text row, derived from the schema's label sets."""
    import datasets

    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "event_id": datasets.Value("string"),
            "country": datasets.Value("string"),
            "language": datasets.ClassLabel(names=list(TEXT_LANGUAGES)),
            "text": datasets.Value("string"),
            **{head: datasets.ClassLabel(names=label_names(labels)) for head, labels in HEADS.items()},
        }
    )


def split_cases(
    cases: list[Case], *, seed: int = 0, test_size: float = 0.15, validation_size: float = 0.15
) -> dict[str, list[Case]]:
    """Split cases into train/validation/test, stratified by category and grouped by event.

    No event appears on two sides. The split depends only on the case ids,
    categories, event ids and ``seed``, never on file order.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    cases = sorted(cases, key=lambda c: c.id)
    if not cases:
        return {name: [] for name in SPLITS}
    y = [c.category.value for c in cases]
    groups = [c.event_id for c in cases]

    def carve(indices: list[int], share: float, salt: int) -> tuple[list[int], list[int]]:
        n_splits = max(2, round(1 / share))
        n_groups = len({groups[i] for i in indices})
        n_splits = min(n_splits, n_groups)
        if n_splits < 2:
            return indices, []
        folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + salt)
        sub_y = [y[i] for i in indices]
        sub_g = [groups[i] for i in indices]
        # StratifiedGroupKFold warns when a class has fewer members than folds; the split is still valid.
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            keep, held = next(folds.split(indices, sub_y, sub_g))
        return [indices[i] for i in keep], [indices[i] for i in held]

    rest, test = carve(list(range(len(cases))), test_size, 0)
    train, validation = carve(rest, validation_size / (1 - test_size), 1)
    return {
        "train": [cases[i] for i in train],
        "validation": [cases[i] for i in validation],
        "test": [cases[i] for i in test],
    }


def load_dataset(path: str | Path = DEFAULT_CORPUS, *, seed: int = 0):
    """Load the corpus as a Hugging Face ``DatasetDict`` (train/validation/test).

    One text row per case and language, ``ClassLabel`` features for the heads,
    splits stratified by category and grouped by ``event_id``.

    Examples
    --------
    >>> ds = load_dataset()
    >>> ds["train"].features["category"].names[:2]
    ['btr', 'other_resignation']
    """
    import datasets

    parts = split_cases(load_cases(path), seed=seed)
    feats = features()
    return datasets.DatasetDict(
        {
            name: datasets.Dataset.from_list(
                [row for case in part for row in case_rows(case)], features=feats
            )
            for name, part in parts.items()
        }
    )


def _with_label_names(split: Any) -> Any:
    """The split as a table with every ClassLabel column given as its label names."""
    import datasets

    table = split.to_pandas()
    for column, feature in split.features.items():
        if isinstance(feature, datasets.ClassLabel):
            table[column] = [feature.int2str(int(v)) for v in table[column]]
    return table


def export(
    out: str | Path, *, format: str = "jsonl", path: str | Path = DEFAULT_CORPUS, seed: int = 0
) -> list[Path]:
    """Export the split corpus to ``out`` as ``hf`` (save_to_disk), parquet, csv or jsonl.

    ``hf`` and parquet keep the ``ClassLabel`` features (integers with their names in the
    schema of the file); csv and jsonl are read by people and by tools that know no features,
    so they carry the label names.

    Returns the paths written.
    """
    out = Path(out)
    ds = load_dataset(path, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    if format == "hf":
        ds.save_to_disk(str(out))
        return [out]
    written = []
    for name, split in ds.items():
        target = out / f"{name}.{format}"
        if format == "parquet":
            split.to_parquet(str(target))
        elif format == "csv":
            _with_label_names(split).to_csv(target, index=False)
        elif format == "jsonl":
            _with_label_names(split).to_json(target, orient="records", lines=True, force_ascii=False)
        else:
            raise InputError(f"unknown export format {format!r}; use hf, parquet, csv or jsonl")
        written.append(target)
    return written
