"""Open-world tagging: the exit lexicon gate, the unrelated and exit texts, the news evaluation."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from btr.cli import main
from btr.corpus import (
    DEFAULT_NEWS,
    DEFAULT_NEWS_TRAIN,
    load_cases,
    load_news,
    load_news_train,
    load_unrelated,
    validate,
)
from btr.errors import DataError
from btr.lexicon import (
    category_cue_counts,
    category_cue_names,
    cue_counts,
    cue_names,
    exit_sentences,
    lexicon_languages,
    mentions_exit,
)
from btr.models import open_world_proba, settle_fixed_labels
from btr.news_eval import evaluate_news, news_table, precision_at_base_rate
from btr.schema import HEADS, UNRELATED_LABELS, ExitText, NewsLanguage, label_names
from btr.text import fold

EXITS = {
    "zh-Hans": "市长因事故引咎辞职。",
    "zh-Hant": "經濟部長宣布請辭下台。",
    "en": "The minister stepped down on Friday.",
    "ja": "知事が引責辞任を表明した。",
    "ko": "장관이 사퇴 의사를 밝혔다.",
    "de": "Der Minister kündigte seinen Rücktritt an.",
    "fr": "Le ministre a présenté sa démission.",
    "es": "La ministra presentó su dimisión.",
    "pt": "O ministro apresentou a sua demissão.",
    "it": "Il ministro ha rassegnato le dimissioni.",
    "ru": "Министр подал в отставку.",
    "nl": "De minister is afgetreden.",
}
PLAIN = [
    "GDP grew 5.2% in the third quarter, the statistics office said.",
    "今日は全国的に晴れ、気温は平年並みとなる見込みです。",
    "서울 지하철 2호선이 오늘 아침 정상 운행됐다.",
    "Der FC gewann das Heimspiel mit 2:1.",
    "国家统计局公布，三季度国内生产总值同比增长5.2%。",
]


def test_the_lexicon_covers_every_news_language():
    assert set(lexicon_languages()) == set(label_names(NewsLanguage))
    assert set(EXITS) == set(lexicon_languages())


def test_gate_finds_an_exit_in_every_language_and_none_in_plain_news():
    assert mentions_exit(list(EXITS.values())).all()
    assert not mentions_exit(PLAIN).any()


def test_gate_finds_the_other_script_and_full_width_spellings():
    # the lexicon lists 引咎辞职; the Traditional and the full-width spellings are found as well
    assert mentions_exit(["衛生署長引咎辭職", "ＴＨＥ ＭＩＮＩＳＴＥＲ ＲＥＳＩＧＮＥＤ"]).all()
    assert not mentions_exit(["ＴＨＥ ＭＩＮＩＳＴＥＲ ＳＰＯＫＥ"]).any()


def test_latin_terms_start_a_word_and_whole_words_end_one():
    # "quit" and "depart" are exit words; "quite", "acquit" and "department" are not
    assert mentions_exit(["He will quit.", "She quit the cabinet", "The minister departs"]).all()
    assert not mentions_exit(
        ["The rain was quite heavy.", "The court acquitted two men.", "The health department said so."]
    ).any()
    # German builds compounds: a term inside one still counts
    assert mentions_exit(["Die Ministerrücktrittsforderung wurde laut."])[0]


def test_category_cues_tell_blame_removal_reason_and_company_apart():
    names = category_cue_names()
    assert names == ["blame", "dismissal", "other_reason", "non_public", "state_enterprise"]
    texts = [
        "the minister resigned, taking responsibility for the accident.",
        "the mayor was dismissed by the council.",
        "the governor resigned for health reasons.",
        "the ceo of the company resigned.",
        "the head of the state-owned railway operator resigned.",
        "Der Minister ist aus Protest zurückgetreten.",
        "韓国鉄道公社の社長が辞任した。",
        "한국철도공사 사장이 사퇴했다.",
    ]
    counts = category_cue_counts([fold(t) for t in texts])
    assert counts.argmax(axis=1).tolist()[:6] == [0, 1, 2, 3, 4, 2]
    # a state company is a company and a state body at once: the state group counts beside the other
    assert counts[6:, names.index("state_enterprise")].min() >= 1


@pytest.mark.parametrize(
    "text",
    [
        "知事は謝罪したが辞任はせず、職にとどまる考えを示した。",
        "Der Gouverneur bekennt sich zur Verantwortung, bleibt aber im Amt.",
        "La ministra seguirá en el cargo tras poner su puesto a disposición.",
        "Le ministre exclut de démissionner et reste à son poste.",
        "The prime minister turns down the minister's resignation.",
        "시장은 사퇴를 거부했다.",
    ],
)
def test_refusal_cues_of_each_language_read_refused(text):
    counts = cue_counts([exit_sentences(fold(text))])
    assert counts[0].argmax() == cue_names().index("refused"), counts
    assert category_cue_counts([""]).sum() == 0


def test_a_resignation_for_other_reasons_reads_trigger_none():
    category = np.zeros((2, len(HEADS["category"])))
    category[0, label_names(HEADS["category"]).index("other_resignation")] = 0.9
    category[0, label_names(HEADS["category"]).index("btr")] = 0.1
    category[1, label_names(HEADS["category"]).index("btr")] = 1.0
    trigger = np.zeros((2, len(HEADS["trigger"])))
    trigger[:, label_names(HEADS["trigger"]).index("safety_accident")] = 1.0
    out = settle_fixed_labels({"category": category, "trigger": trigger})
    names = label_names(HEADS["trigger"])
    assert [names[i] for i in out["trigger"].argmax(axis=1)] == ["none", "safety_accident"]
    assert np.allclose(out["trigger"].sum(axis=1), 1.0)
    assert out["trigger"][0, names.index("none")] == pytest.approx(0.9)


def test_gate_recall_on_every_relevant_corpus_text_meets_its_floor(corpus_path):
    texts = [t for c in load_cases(corpus_path) for _, t in c.text.items()]
    assert len(texts) > 1000
    assert mentions_exit(texts).mean() >= 0.995


def test_cues_are_counted_in_the_exit_sentences_only():
    text = fold("Opposition parties demanded his resignation. He refused to resign. Rain is expected.")
    sentences = exit_sentences(text)
    assert "rain" not in sentences
    counts = dict(zip(cue_names(), cue_counts([sentences])[0], strict=True))
    assert counts["demanded"] >= 1 and counts["refused"] >= 1
    assert cue_counts([""]).sum() == 0


def test_checked_in_unrelated_and_news_files_are_valid_and_disjoint(corpus_path):
    for name in ("unrelated.jsonl", "news_dev.jsonl"):
        assert validate(corpus_path.parent / name) == []
    unrelated = load_unrelated(corpus_path.parent / "unrelated.jsonl")
    assert all(u.sources for u in unrelated if u.persons)
    news = load_news(corpus_path.parent / "news_dev.jsonl")
    cases = load_cases(corpus_path)
    assert not {a.event_id for a in news} & {c.event_id for c in cases}
    officials = {c.official.name.lower() for c in cases} | {c.official.name_en.lower() for c in cases}
    assert not [
        (a.id, p)
        for a in news
        if a.category.value != "unrelated"
        for p in a.persons
        if p.lower() in officials
    ]


def test_training_news_reports_cases_of_the_corpus_with_their_labels_and_no_evaluation_event(corpus_path):
    assert validate(DEFAULT_NEWS_TRAIN) == []
    articles = load_news_train()
    cases = {c.id: c for c in load_cases(corpus_path)}
    assert len(articles) >= 300 and len({a.language for a in articles}) >= 8
    wrong = [
        a.id
        for a in articles
        if a.case_id not in cases
        or a.event_id != cases[a.case_id].event_id
        or any(
            getattr(a, h).value != cases[a.case_id].head(h) for h in ("category", "trigger", "exit_status")
        )
    ]
    assert wrong == []
    evaluation = load_news(DEFAULT_NEWS)
    assert not {a.event_id for a in articles} & {a.event_id for a in evaluation}
    assert not {a.text for a in articles} & {a.text for a in evaluation}


def test_a_training_article_is_one_more_text_of_its_case(corpus_path):
    from btr.models import training_rows

    article = load_news_train()[0]
    case = next(c for c in load_cases(corpus_path) if c.id == article.case_id)
    rows = training_rows([case], [article])
    assert [r["id"] for r in rows] == [case.id] * (len(case.text.items()) + 1)
    assert rows[-1]["text"] == article.text and rows[-1]["event_id"] == case.event_id
    assert {h: rows[-1][h] for h in HEADS} == {h: case.head(h) for h in HEADS}
    # an article whose case is not trained on is left out, never learned without its case
    assert training_rows([], [article]) == []


def test_exit_texts_are_never_unrelated_and_real_persons_need_sources():
    good = {"id": "ex-en-0001", "language": "en", "category": "no_resignation", "exit_status": "refused",
            "text": "The mayor said he would not resign."}  # fmt: skip
    assert ExitText.model_validate(good).trigger.value == "none"
    with pytest.raises(ValidationError, match="never unrelated"):
        ExitText.model_validate(good | {"category": "unrelated", "exit_status": "no_exit"})
    with pytest.raises(ValidationError, match="does not fit category"):
        ExitText.model_validate(good | {"exit_status": "occurred"})
    with pytest.raises(ValidationError, match="gives no source"):
        ExitText.model_validate(good | {"persons": ["A Real Person"]})


def test_gated_texts_are_unrelated_without_the_model(small_model):
    from btr.models import load_model

    model = load_model(small_model)
    texts = [PLAIN[0], EXITS["zh-Hans"], PLAIN[1]]
    proba = open_world_proba(model.estimator, texts)
    for head, names in model.estimator.heads_.items():
        np.testing.assert_allclose(proba[head].sum(axis=1), 1.0)
        for row in (0, 2):
            assert proba[head][row, names.index(UNRELATED_LABELS[head])] == 1.0
    assert proba["category"][1, names_index(model, "category", "unrelated")] < 1.0
    # without the gate every text goes through the estimator
    ungated = open_world_proba(model.estimator, texts, gate=False)
    assert ungated["category"][0, names_index(model, "category", "unrelated")] < 1.0
    records = model.predict(texts)
    assert records[0]["category"]["label"] == "unrelated"
    assert set(records[1]) >= set(HEADS)


def names_index(model, head: str, label: str) -> int:
    return model.estimator.heads_[head].index(label)


@pytest.fixture(scope="module")
def news_subset(tmp_path_factory):
    """Every unrelated article and up to 12 relevant ones per language of the checked-in news set."""
    articles = load_news(DEFAULT_NEWS)
    kept, per_language = [], {}
    for a in articles:
        if a.category.value != "unrelated":
            per_language[a.language] = per_language.get(a.language, 0) + 1
            if per_language[a.language] > 12:
                continue
        kept.append(a)
    path = tmp_path_factory.mktemp("news") / "news_subset.jsonl"
    path.write_text("".join(json.dumps(a.model_dump(mode="json"), ensure_ascii=False) + "\n" for a in kept))
    return path, kept


def test_news_evaluation_reports_rates_that_follow_from_its_counts(small_model, news_subset):
    path, articles = news_subset
    report = evaluate_news(small_model, news=path, record=False)
    overall = report["overall"]
    assert report["n_articles"] == len(articles)
    assert report["n_unrelated"] == sum(a.category.value == "unrelated" for a in articles)
    assert overall["positives"] == sum(a.is_btr for a in articles)
    assert overall["tp"] + overall["fn"] == overall["positives"]
    assert sum(r["n"] for r in report["per_language"].values()) == len(articles)
    if overall["tp"]:
        assert overall["precision"] == pytest.approx(overall["tp"] / (overall["tp"] + overall["fp"]))
    expected = precision_at_base_rate(overall["recall"], report["fp_rate_unrelated"], report["base_rate"])
    assert report["precision_at_base_rate"] == pytest.approx(expected, nan_ok=True)
    kinds = report["kinds"]
    assert sum(k["n"] for k in kinds.values()) == len(articles)
    assert 0.0 <= report["gate"]["pass_rate_unrelated"] <= 1.0
    assert report["gate"]["recall_news"] >= 0.98
    # the confusion matrix holds every article once, rows by the true category
    category = report["category"]
    matrix = np.array(category["confusion"])
    assert matrix.sum() == len(articles)
    truth = Counter(a.category.value for a in articles)
    assert {
        label: int(row.sum()) for label, row in zip(category["labels"], matrix, strict=True) if row.sum()
    } == truth
    btr = category["labels"].index("btr")
    assert matrix[:, btr].sum() == overall["tp"] + overall["fp"]  # the articles tagged btr
    assert matrix[btr, btr] == overall["tp"]
    table = news_table(report)
    assert "false-positive rate" in table and "errors by kind" in table and "confusion" in table


def test_a_news_set_that_shares_an_event_with_the_training_data_is_refused(
    small_model, tmp_path, news_subset
):
    from btr.models import load_model

    model = load_model(small_model)
    trained_case = load_cases(model.meta["corpus"]["path"])[0]
    _, articles = news_subset
    clash = articles[0].model_copy(update={"event_id": trained_case.event_id})
    path = tmp_path / "news_clash.jsonl"
    path.write_text(json.dumps(clash.model_dump(mode="json"), ensure_ascii=False) + "\n")
    with pytest.raises(DataError, match="shares events with the training corpus"):
        evaluate_news(model, news=path, record=False)


def test_cli_evaluate_news_json(small_model, news_subset):
    path, articles = news_subset
    result = CliRunner().invoke(
        main, ["evaluate", "--model", str(small_model), "--news", str(path), "--json", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["n_articles"] == len(articles) and "fp_rate_unrelated" in report
