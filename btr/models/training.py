"""Training from the corpus: the rows a model learns from, the estimator of a kind, and :func:`train`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from btr.errors import InputError
from btr.models.artifact import Model, load_model, save_model
from btr.models.card import CorpusInfo
from btr.models.heads import rows_to_xy
from btr.models.linear import LinearModel
from btr.models.transformer import TransformerModel
from btr.paths import ROOT
from btr.settings import DEFAULT_BASE_MODEL, KINDS, quiet_default


def make_estimator(kind: str, **params: Any) -> LinearModel | TransformerModel:
    """An unfitted estimator of ``kind`` (``linear`` or ``transformer``) with ``params``."""
    if kind == "linear":
        return LinearModel(**params)
    if kind == "transformer":
        return TransformerModel(**params)
    raise InputError(f"unknown model kind {kind!r}; use one of {', '.join(KINDS)}")


# Paths inside the repository root (btr.paths.ROOT) are recorded relative to it, so that a
# checked-in ``meta.json`` names ``corpus/cases.jsonl`` rather than one machine's absolute path.


def portable_path(path: str | Path) -> str:
    """``path`` relative to the repository root when it lies inside it, else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def resolve_path(recorded: str) -> Path:
    """The inverse of :func:`portable_path`."""
    path = Path(recorded)
    return path if path.is_absolute() else ROOT / path


def corpus_info(
    cases: Sequence[Any],
    path: str | Path,
    *,
    unrelated: Sequence[Any] = (),
    unrelated_path: str | Path | None = None,
) -> CorpusInfo:
    """Describe the data a model is trained on (hashes of the files it came from)."""
    from btr.corpus import DEFAULT_EXITS, DEFAULT_NEWS_TRAIN, case_rows, corpus_hash
    from btr.schema import ExitText, NewsArticle

    rows = [row for case in cases for row in case_rows(case)]
    case_ids = {case.id for case in cases}
    exits = [item for item in unrelated if isinstance(item, ExitText)]
    news = [item for item in unrelated if isinstance(item, NewsArticle) and item.case_id in case_ids]
    unrelated = [item for item in unrelated if not isinstance(item, ExitText | NewsArticle)]
    return CorpusInfo(
        path=portable_path(path),
        sha256=corpus_hash(path),
        cases=len(cases),
        rows=len(rows) + len(unrelated) + len(exits) + len(news),
        events=len({c.event_id for c in cases}),
        languages=sorted({row["language"] for row in rows}),
        case_ids=sorted(c.id for c in cases),
        unrelated=portable_path(unrelated_path) if unrelated else None,
        unrelated_sha256=corpus_hash(unrelated_path) if unrelated else None,
        unrelated_texts=len(unrelated),
        exits=portable_path(DEFAULT_EXITS) if exits else None,
        exits_sha256=corpus_hash(DEFAULT_EXITS) if exits else None,
        exit_texts=len(exits),
        news_train=portable_path(DEFAULT_NEWS_TRAIN) if news else None,
        news_train_sha256=corpus_hash(DEFAULT_NEWS_TRAIN) if news else None,
        news_texts=len(news),
    )


def training_rows(cases: Sequence[Any], unrelated: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The text rows a model learns from: every language of every case, then the unrelated and exit
    texts and the training news articles (:class:`~btr.schema.NewsArticle` with a ``case_id``).

    A news article is one more text of its case (:func:`btr.corpus.news_rows`); an article whose
    case is not in ``cases`` is left out, so that a sub-corpus never learns about cases it lacks.
    """
    from btr.corpus import case_rows, news_rows, unrelated_rows
    from btr.schema import NewsArticle

    by_id = {case.id: case for case in cases}
    rows = [row for case in cases for row in case_rows(case)]
    for item in unrelated:
        if isinstance(item, NewsArticle):
            if item.case_id in by_id:
                rows += news_rows(item, by_id[item.case_id])
        else:
            rows += unrelated_rows(item)
    return rows


def extra_texts(corpus: str | Path, unrelated: str | Path | None = None) -> list[Any]:
    """The texts learned beside the cases of ``corpus``: the named ``unrelated`` file, or with the
    default corpus its unrelated, exit and training news texts; a named corpus brings its own.

    Raises
    ------
    InputError
        When ``unrelated`` is named and does not exist.
    """
    from btr.corpus import DEFAULT_CORPUS, DEFAULT_UNRELATED, load_exits, load_news_train, load_unrelated

    if unrelated is not None:
        if not Path(unrelated).exists():
            raise InputError(f"{unrelated}: no such file")
        return load_unrelated(unrelated)
    if Path(corpus).resolve() == DEFAULT_CORPUS.resolve():
        return [*load_unrelated(DEFAULT_UNRELATED), *load_exits(), *load_news_train()]
    return []


def train(
    *,
    kind: str = "linear",
    out: str | Path,
    base_model: str | None = None,
    seed: int = 0,
    cases: str | Path | None = None,
    unrelated: str | Path | None = None,
    name: str | None = None,
    params: dict[str, Any] | None = None,
    quiet: bool | None = None,
) -> Model:
    """Train a model of ``kind`` on every case of a corpus and save it to ``out``.

    Parameters
    ----------
    kind : {"linear", "transformer"}
    out : path
        The model directory (``models/NAME``).
    base_model : str, optional
        For ``transformer``: a hub checkpoint name or a local path.
    seed : int
    cases : path, optional
        The corpus file; default ``corpus/cases.jsonl``.
    unrelated : path, optional
        News-style texts that report no exit, learned as ``unrelated``. With the default
        corpus, ``corpus/unrelated.jsonl``, ``corpus/exits.jsonl`` and the training news
        articles ``corpus/news_train.jsonl`` are used when they exist.
    params : dict, optional
        Further estimator parameters.

    Returns
    -------
    Model
        The saved model, loaded back through :func:`load_model`.

    Examples
    --------
    >>> model = train(kind="linear", out="models/default")  # doctest: +SKIP
    """
    from btr.corpus import DEFAULT_CORPUS, DEFAULT_UNRELATED, load_cases

    path = Path(cases or DEFAULT_CORPUS)
    loaded = load_cases(path)
    unrelated_path = Path(unrelated or DEFAULT_UNRELATED)
    extra = extra_texts(path, unrelated)
    if len(loaded) < 2:
        raise InputError(f"{path}: {len(loaded)} case(s); training needs at least 2")
    options = dict(params or {}, random_state=seed)
    if kind == "transformer":
        options["base_model"] = base_model or options.get("base_model", DEFAULT_BASE_MODEL)
        options["quiet"] = quiet_default(quiet)
    elif base_model:
        raise InputError("--base-model applies only to --model transformer")
    estimator = make_estimator(kind, **options)
    texts, y = rows_to_xy(training_rows(loaded, extra))
    started = time.perf_counter()
    estimator.fit(texts, y)
    seconds = time.perf_counter() - started
    info = corpus_info(loaded, path, unrelated=extra, unrelated_path=unrelated_path)
    save_model(estimator, out, name=name, corpus=info, seed=seed, training_seconds=seconds)
    return load_model(out, quiet=quiet)
