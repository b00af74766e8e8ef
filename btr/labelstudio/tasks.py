"""Tasks: what a case or a news article shows an annotator, keyed by a stable id."""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path
from typing import Any

from btr.errors import DataError, Problem
from btr.schema import (
    Case,
)

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
