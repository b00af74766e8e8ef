"""btr.text, btr.rules and btr.models: features, the two estimators, saving and loading, train/evaluate CLI."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.base import clone
from sklearn.exceptions import NotFittedError, SkipTestWarning
from sklearn.utils import estimator_checks, get_tags
from sklearn.utils.estimator_checks import check_estimator

from btr.cli import main
from btr.corpus import case_rows, load_cases, split_cases
from btr.errors import InputError, ModelError
from btr.evaluate import _majority, _scores
from btr.lexicon import exit_sentences
from btr.models import (
    NOT_APPLICABLE,
    LinearModel,
    TransformerModel,
    load_model,
    render_card,
    rows_to_xy,
    train,
)
from btr.rules import keyword_counts, predict_rules
from btr.schema import HEADS, label_names
from btr.text import VocabularyCounter, analyze, analyze_folded, fold, normalize, sentences


def _xy(cases):
    return rows_to_xy([row for case in cases for row in case_rows(case)])


# ------------------------------------------------------------------ text


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("衛生部長張文康引咎辭職", "卫生部长张文康引咎辞职"),
        ("國務院同意孟學農辭去山西省省長職務", "国务院同意孟学农辞去山西省省长职务"),
        ("ＡＢＣ　１２３", "ABC 123"),  # full-width letters, digits and space
        ("  resigned \n\t over   the blast ", "resigned over the blast"),
        ("已是简体", "已是简体"),
    ],
)
def test_normalize_folds_script_width_and_space(raw, folded):
    assert normalize(raw) == folded


def test_traditional_and_simplified_give_the_same_features():
    assert analyze("香港保安局局長辭職") == analyze("香港保安局局长辞职")


def test_analyze_keeps_scripts_apart():
    features = analyze("部长 resigned 辞职")
    assert "部长" in features and "辞职" in features and "resigned" in features
    assert not any(" " in f and not f.isascii() for f in features)  # no bigram spans a CJK run
    assert "长辞" not in features  # no character n-gram spans the English word
    assert "~resig" in features


_AWKWARD = [
    "",
    "a",
    "中",
    "a中b",
    "ab-cd 中文 x y中z",
    "resigned.辞职 of the it's a 'test' -x- y' --",
    "pipes | and 一 split nothing: mayor | resigned",
    "😀辞😀职 𠀀辞职 \ud800 lone surrogate",
    "ｆｕｌｌ　ｗｉｄｔｈ　ＲＥＳＩＧＮＥＤ 國務院同意孟學農辭去職務",
    "  tabs\tand\nnew\r\nlines  ",
]


def _reference_normalize(text):
    """The plain definition of normalize: NFKC, str.translate with OpenCC's table, \\s+ to a space."""
    import re
    import unicodedata

    from btr.text import _t2s_table

    text = unicodedata.normalize("NFKC", text).translate(_t2s_table())
    return re.sub(r"\s+", " ", text).strip()


def test_normalize_matches_its_plain_definition(corpus_path):
    corpus_cases = load_cases(corpus_path)
    texts = [t for case in corpus_cases for t in (case.text.zh, case.text.en)] + _AWKWARD
    assert [normalize(t) for t in texts] == [_reference_normalize(t) for t in texts]


@pytest.mark.parametrize("pair_tables", ["dense", "sorted"])
def test_vocabulary_counter_gives_countvectorizers_matrix(corpus_path, pair_tables, monkeypatch):
    """The fast counting path gives exactly the matrix of CountVectorizer over analyze_folded,
    with pair tables dense (small vocabularies) or searched (large ones)."""
    from sklearn.feature_extraction.text import CountVectorizer

    from btr.text import _PairTable

    if pair_tables == "sorted":
        monkeypatch.setattr(_PairTable, "_DENSE_MAX", 0)

    texts = [fold(t) for case in load_cases(corpus_path) for t in (case.text.zh, case.text.en)]
    fitted = CountVectorizer(analyzer=analyze_folded, min_df=2).fit(texts[::2] + texts[1::4])
    vocabulary = fitted.vocabulary_
    assert any(" " in term for term in vocabulary) and any("~" in term for term in vocabulary)
    mixed = [texts[i] + " " + texts[i + 1] + texts[i] for i in range(0, 60, 2)]
    docs = texts + mixed + [fold(t) for t in _AWKWARD]
    expected = CountVectorizer(analyzer=analyze_folded, vocabulary=vocabulary, dtype=np.float32).transform(
        docs
    )
    counter = VocabularyCounter(vocabulary)
    got = counter.transform(docs)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert (got != expected).nnz == 0
    assert (counter.transform(docs) != expected).nnz == 0  # the token cache, once warm, changes nothing


def test_sentences_return_spans_of_the_original():
    text = "He resigned on Monday. The mine had flooded.礦難後他辭職。"
    parts = [text[a:b] for a, b in sentences(text)]
    assert parts == ["He resigned on Monday.", "The mine had flooded.", "礦難後他辭職。"]


# ------------------------------------------------------------------ keyword rules


@pytest.mark.parametrize(
    ("text", "head", "label"),
    [
        ("卫生部长因非典疫情引咎辞职", "trigger", "public_health"),
        ("The minister resigned after the mine explosion killed 30 miners", "trigger", "safety_accident"),
        ("市长被免职", "category", "dismissal"),
        ("The mayor refused to resign despite the calls", "category", "no_resignation"),
        ("He was ordered to resign by the party committee", "initiation", "ordered"),
        ("The fired workers protested", "trigger", "public_order_incident"),  # "fire" must not match "fired"
        # the trigger and category lists cover the languages of the exit lexicon
        ("炭鉱の爆発事故で知事が引責辞任", "trigger", "safety_accident"),
        ("탈옥 사건으로 교정본부장 사퇴", "trigger", "security_failure"),
        ("Rücktritt nach dem Hochwasser: Kritik an der Katastrophenhilfe", "trigger", "disaster_response"),
        ("Démission après une affaire de corruption et d'emplois fictifs", "trigger", "corruption_financial"),
        ("Dimite el ministro tras la intoxicación alimentaria", "trigger", "food_drug_safety"),
        ("知事は辞任を拒否した", "category", "no_resignation"),
        ("Der Minister wurde entlassen", "category", "dismissal"),
    ],
)
def test_keyword_rules(text, head, label):
    assert predict_rules([text])[head] == [label]


def test_keyword_counts_are_per_distinct_keyword():
    once, twice = keyword_counts(["矿难", "矿难 矿难"])
    assert np.array_equal(once, twice)
    # 火災 (Japanese) folds to 火灾 (Chinese): one keyword, counted once
    assert keyword_counts(["火災"]).sum() == keyword_counts(["火灾"]).sum() == 1


def test_keyword_counts_match_one_scan_of_every_keyword(corpus_path):
    """The non-ASCII keywords are scanned per script group, and a group is skipped when the
    text lacks its characters: that must find what one longest-match scan of them all finds."""
    import ahocorasick

    from btr.rules import _latin_words, _matcher, keyword_columns
    from btr.text import _CJK_RUN_RE

    latin, _, owners = _matcher()
    # the split is exact only if no keyword of one group can overlap one of the other
    others = [w for w in owners if not w.isascii()]
    cjk = [w for w in others if _CJK_RUN_RE.search(w)]
    rest = [w for w in others if not _CJK_RUN_RE.search(w)]
    assert cjk and rest
    for a in cjk:
        for b in rest:
            assert a not in b and b not in a, (a, b)
            assert not any(a.endswith(b[:k]) or b.endswith(a[:k]) for k in range(1, min(len(a), len(b)))), (
                a,
                b,
            )
    every = ahocorasick.Automaton()
    for word in owners:
        if not word.isascii():
            every.add_word(word, word)
    every.make_automaton()
    texts = [t for case in load_cases(corpus_path) for t in case.text.model_dump().values() if t]
    texts += [a + " " + b for a, b in zip(texts[::7], texts[3::7], strict=False)]  # scripts mixed
    texts += [
        "Démission après une affaire de corruption",
        "탈옥 사건으로 교정본부장 사퇴",
        "Rücktritt nach dem Hochwasser",
    ]
    expected = np.zeros((len(texts), len(keyword_columns())), dtype=np.float32)
    for i, text in enumerate(texts):
        text = fold(text)
        for word in _latin_words(text, latin) | {w for _, w in every.iter_long(text)}:
            for column in owners[word]:
                expected[i, column] += 1
    got = keyword_counts(texts)
    assert got[-3:].sum() >= 3 and np.array_equal(got, expected)


def test_exit_sentences_keep_the_first_sentences_with_a_term(corpus_path):
    """With a limit the scan stops early; it must keep what splitting the whole text keeps."""
    import re

    from btr.lexicon import _FOLDED_SENTENCE_END, exit_terms

    texts = [fold(t) for case in load_cases(corpus_path) for t in case.text.model_dump().values() if t]
    for text in texts[:600]:
        cuts = [0, *(m.end() for m in _FOLDED_SENTENCE_END.finditer(text)), len(text)]
        spans = [text[a:b].strip() for a, b in itertools.pairwise(cuts)]
        kept = [s for s in spans if s and exit_terms(s)]
        for limit in (1, 2, None):
            assert exit_sentences(text, limit) == " ".join(kept[:limit]), (text, limit)
    assert re.fullmatch(r".*辞职。", exit_sentences(fold("矿井爆炸。省长辞职。省长辞职了。"), 1))


# ------------------------------------------------------------------ estimators

#: scikit-learn's checks of the API contract, which need no data: each must pass as it is.
API_CHECKS = [
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_estimator_repr",
    "check_estimator_cloneable",
    "check_mixin_order",
    "check_valid_tag_types",
    "check_estimator_tags_renamed",
    "check_do_not_raise_errors_in_init_or_set_params",
]
#: The one exclusion: check_estimator's data checks generate numeric matrices and integer
#: labels, while these estimators read texts and predict the schema's label names. The tags say
#: so (string input, multi-output classifier) and check_estimator declines; the data checks that
#: matter for a text classifier are run on texts below (test_estimator_behaviour_on_texts).


@pytest.mark.parametrize("estimator", [LinearModel(), TransformerModel()], ids=["linear", "transformer"])
def test_tags_say_texts_in_and_one_label_per_head_out(estimator):
    tags = get_tags(estimator)
    assert tags.estimator_type == "classifier"
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    assert tags.target_tags.multi_output and not tags.target_tags.single_output
    with pytest.warns(SkipTestWarning, match="requires input"):
        check_estimator(estimator, on_fail=None, on_skip=None)


@pytest.mark.parametrize("check", API_CHECKS)
@pytest.mark.parametrize("estimator", [LinearModel(), TransformerModel()], ids=["linear", "transformer"])
def test_sklearn_api_checks(estimator, check):
    getattr(estimator_checks, check)(type(estimator).__name__, estimator)


def test_estimator_behaviour_on_texts(split):
    """check_estimator's data checks, on texts: fit returns self, is idempotent, predict adds no
    state, and predictions do not depend on the order or the company of the other texts."""
    texts, y = _xy(split["train"])
    test, _ = _xy(split["test"])
    with pytest.raises(NotFittedError):
        LinearModel().predict(test[:2])
    model = LinearModel()
    assert model.fit(texts, y) is model
    first = model.predict_proba(test)
    state = {k: v for k, v in model.__dict__.items()}
    model.predict(test)
    model.head_proba(test)
    assert model.__dict__.keys() == state.keys() and all(model.__dict__[k] is v for k, v in state.items())
    model.fit(texts, y)
    for p, q in zip(model.predict_proba(test), first, strict=True):
        np.testing.assert_allclose(p, q)  # refitting on the same data gives the same model
    order = np.random.default_rng(0).permutation(len(test))
    shuffled = model.predict_proba([test[i] for i in order])
    subset = model.predict_proba(test[:5])
    for p, q, r in zip(first, shuffled, subset, strict=True):
        np.testing.assert_allclose(q, p[order])
        np.testing.assert_allclose(r, p[:5])


@pytest.fixture(scope="module")
def split(model_cases_path):
    return split_cases(load_cases(model_cases_path), seed=0)


@pytest.fixture(scope="module")
def fitted(split):
    texts, y = _xy(split["train"] + split["validation"])
    return LinearModel().fit(texts, y)


@pytest.mark.parametrize("head", ["category", "trigger"])
def test_linear_beats_majority_on_held_out_split(split, fitted, head):
    _, train_y = _xy(split["train"] + split["validation"])
    test_texts, test_y = _xy(split["test"])
    column = list(HEADS).index(head)
    truth = test_y[:, column]
    keep = np.array([label not in NOT_APPLICABLE[head] for label in truth])
    names = label_names(HEADS[head])
    predicted = [names[j] for j in fitted.head_proba(test_texts)[head].argmax(axis=1)]
    majority = _majority(train_y[:, column], head)
    model_f1 = _scores(list(truth[keep]), list(np.array(predicted)[keep]))["macro_f1"]
    majority_f1 = _scores(list(truth[keep]), [majority] * int(keep.sum()))["macro_f1"]
    assert model_f1 > majority_f1 + 0.1


def test_predict_proba_covers_the_schema_labels(fitted):
    texts = ["山西省长因溃坝事故引咎辞职", "The CEO quit after the emissions scandal"]
    proba = fitted.head_proba(texts)
    assert list(proba) == list(HEADS)
    # predict_proba is the same arrays as a list in head order, as MultiOutputClassifier's
    listed = fitted.predict_proba(texts)
    assert len(listed) == len(HEADS)
    for p, q in zip(listed, proba.values(), strict=True):
        np.testing.assert_array_equal(p, q)
    for head, p in proba.items():
        assert p.shape == (2, len(label_names(HEADS[head])))
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
        for label in NOT_APPLICABLE[head]:  # never learned, never predicted
            assert np.all(p[:, label_names(HEADS[head]).index(label)] == 0)


def test_predict_gives_one_label_name_per_head(fitted):
    texts = ["国务院同意孟学农辞去山西省省长职务", "The mayor was dismissed after the flood"]
    predicted = fitted.predict(texts)
    assert predicted.shape == (2, len(HEADS))
    proba = fitted.head_proba(texts)
    for k, head in enumerate(HEADS):
        names = label_names(HEADS[head])
        assert predicted[:, k].tolist() == [names[j] for j in proba[head].argmax(axis=1)]


def test_score_is_the_mean_accuracy_over_heads(split, fitted):
    texts, y = _xy(split["test"])
    predicted = fitted.predict(texts)
    expected = []
    for k, head in enumerate(HEADS):
        mask = np.array([label not in NOT_APPLICABLE[head] for label in y[:, k]])
        expected.append(np.mean(predicted[mask, k] == y[mask, k]))
    assert fitted.score(texts, y) == pytest.approx(np.mean(expected))
    assert 0.0 < fitted.score(texts, y) < 1.0


def test_clone_refits_to_the_same_model(split, fitted):
    texts, y = _xy(split["train"] + split["validation"])
    again = clone(fitted).fit(texts, y)
    for head, p in fitted.head_proba(texts[:6]).items():
        np.testing.assert_allclose(again.head_proba(texts[:6])[head], p)


def test_fast_tfidf_path_equals_the_vectorizers(split, fitted):
    """Prediction counts features with VocabularyCounter; the matrices are sklearn's own."""
    texts, _ = _xy(split["test"])
    folded = [fold(t) for t in texts]
    for name, docs in (("vectorizer_", folded), ("focus_vectorizer_", fitted._focus(folded))):
        expected = getattr(fitted, name).transform(docs)
        np.testing.assert_allclose(fitted._tfidf(name, docs).toarray(), expected.toarray(), rtol=1e-6)
    model = clone(fitted).fit(texts, _xy(split["test"])[1])
    assert set(model._counters) == {"vectorizer_", "focus_vectorizer_"}
    before = dict(model.__dict__)
    model.predict_proba(texts[:2])
    assert model.__dict__.keys() == before.keys()  # predict adds no state
    old = model._counters["vectorizer_"][0]
    model.fit(*_xy(split["validation"]))
    assert model._counters["vectorizer_"][0] is not old  # a refit never reuses the old vocabulary's counters


def test_a_model_meeting_other_word_lists_says_so(split, fitted):
    texts, _ = _xy(split["test"])
    model = clone(fitted).fit(*_xy(split["validation"]))
    model.lexicon_sha256_ = "0" * 64  # the lists were edited since: the same columns, other words
    with pytest.warns(UserWarning, match="retrained"):
        model.predict(texts[:1])
    model.lexicon_widths_ = (1, 1, 1)  # other columns: its coefficients would read the wrong features
    with pytest.raises(ModelError, match="retrain it with `btr train`"):
        model.predict(texts[:1])


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="not a text"):
        LinearModel().fit([1, 2], [["btr"] * 4, ["dismissal"] * 4])
    with pytest.raises(ValueError, match="shape"):
        LinearModel().fit(["a", "b"], [["btr"], ["dismissal"]])


# ------------------------------------------------------------------ saving and loading


def test_train_save_load_round_trip(linear_model_dir, model_cases_path):
    model = load_model(linear_model_dir)
    assert model.kind == "linear" and model.name == "linear"
    assert model.heads == {head: label_names(labels) for head, labels in HEADS.items()}
    assert model.meta["corpus"]["cases"] == len(load_cases(model_cases_path))
    assert set(model.meta["packages"]) >= {"scikit-learn", "skops", "numpy", "python"}
    texts = ["市委书记因矿难被免职", "The foreign minister resigned, taking responsibility"]
    again = load_model(linear_model_dir)
    for head, p in model.predict_proba(texts).items():
        np.testing.assert_array_equal(again.predict_proba(texts)[head], p)
    card = (linear_model_dir / "README.md").read_text(encoding="utf-8")
    assert card == render_card(model.meta)
    for needed in ("## Intended use", "## Training data", "## Metrics", "## Limits", "## Languages"):
        assert needed in card


def test_untrusted_skops_type_is_refused(linear_model_dir, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(linear_model_dir, target)
    sio.dump({"x": OrderedSet([1, 2])}, target / "model.skops")
    with pytest.raises(ModelError, match=r"untrusted types: .*OrderedSet"):
        load_model(target)


class OrderedSet(list):
    """A type no skops trust list names."""


def test_a_model_file_linked_from_outside_is_refused(linear_model_dir, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(linear_model_dir, target)
    elsewhere = tmp_path / "elsewhere.skops"
    (target / "model.skops").rename(elsewhere)
    (target / "model.skops").symlink_to(elsewhere)
    with pytest.raises(ModelError, match="points outside the model directory"):
        load_model(target)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "meta.json").unlink(), "no model here"),
        (lambda d: (d / "model.skops").unlink(), "model.skops is missing"),
        (lambda d: (d / "model.skops").write_bytes(b"not a zip"), "not a readable skops file"),
        (lambda d: _edit_meta(d, lambda m: m["labels"]["category"].pop()), "differ from the schema"),
        (lambda d: _edit_meta(d, lambda m: m.update(extra=1)), "extra"),
    ],
)
def test_load_model_refuses_broken_directories(linear_model_dir, tmp_path, damage, message):
    target = tmp_path / "model"
    shutil.copytree(linear_model_dir, target)
    damage(target)
    with pytest.raises(ModelError, match=message):
        load_model(target)


def _edit_meta(directory, change):
    meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    change(meta)
    (directory / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def test_explain_quotes_a_sentence_of_the_original(linear_model_dir):
    model = load_model(linear_model_dir)
    text = "天氣晴朗。山西省省長孟學農因襄汾潰壩事故引咎辭職。"
    # the weather sentence supports no category: the resignation is the sentence that explains it
    assert model.explain(text) == "山西省省長孟學農因襄汾潰壩事故引咎辭職。"


# ------------------------------------------------------------------ transformer


@pytest.mark.slow
@pytest.mark.transformers
def test_tiny_transformer_fine_tunes_saves_and_reloads(tiny_base_model, model_cases_path, tmp_path):
    out = tmp_path / "tiny"
    model = train(
        kind="transformer", base_model=str(tiny_base_model), out=out, cases=model_cases_path, seed=0,
        params={"epochs": 1, "max_length": 96, "batch_size": 16}, quiet=True,
    )  # fmt: skip
    assert (out / "encoder" / "model.safetensors").is_file() and (out / "heads.safetensors").is_file()
    assert model.meta["base_model"] == str(tiny_base_model)
    texts = [row["text"] for case in load_cases(model_cases_path)[:8] for row in case_rows(case)]
    before = model.predict_proba(texts)
    reloaded = load_model(out)
    after = reloaded.predict_proba(texts)
    for head in HEADS:
        np.testing.assert_allclose(after[head], before[head], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(after[head].sum(axis=1), 1.0, rtol=1e-5)
    # length-sorted batches give each text the probabilities it gets alone
    alone = reloaded.predict_proba(texts[3:4])
    for head in HEADS:
        np.testing.assert_allclose(alone[head][0], after[head][3], rtol=1e-4, atol=1e-5)
    assert set(reloaded.predict(texts[:1])[0]) == set(HEADS)

    # weights as a pickle (pytorch_model.bin) in place of safetensors are refused, never unpickled
    import torch

    pickled = tmp_path / "pickled"
    shutil.copytree(out, pickled)
    (pickled / "encoder" / "model.safetensors").unlink()
    torch.save(reloaded.estimator.encoder_.state_dict(), pickled / "encoder" / "pytorch_model.bin")
    with pytest.raises(ModelError, match="only from safetensors"):
        load_model(pickled)


@pytest.mark.slow
@pytest.mark.transformers
def test_transformer_unknown_checkpoint_is_a_model_error(model_cases_path, tmp_path):
    with pytest.raises(ModelError, match="cannot load base model"):
        train(kind="transformer", base_model=str(tmp_path / "nothing-here"), out=tmp_path / "m",
              cases=model_cases_path, quiet=True)  # fmt: skip


# ------------------------------------------------------------------ CLI


def test_cli_train_and_evaluate_exit_codes(model_cases_path, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli-model"
    result = runner.invoke(main, ["train", "--out", str(out), "--cases", str(model_cases_path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (out / "meta.json").is_file()
    result = runner.invoke(
        main, ["evaluate", "--model", str(out), "--data", str(model_cases_path), "--json", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["key"] == "split" and set(report["heads"]) == set(HEADS)
    assert "split" in load_model(out).meta["metrics"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["evaluate", "--model", "{tmp}/missing"], 5, "no model here"),
        (["train", "--out", "{tmp}/m", "--cases", "{tmp}/missing.jsonl"], 1, "no such file"),
        (["train", "--out", "{tmp}/m", "--model", "forest"], 2, "forest"),
        (
            ["train", "--out", "{tmp}/m", "--base-model", "x", "--cases", "{cases}"],
            1,
            "only to --model transformer",
        ),
        (["evaluate", "--model", "{tmp}/m", "--cv", "1"], 2, "1"),
    ],
)
def test_cli_errors_have_exit_codes(args, code, message, tmp_path, model_cases_path):
    args = [a.format(tmp=tmp_path, cases=model_cases_path) for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert message in result.output


def test_train_needs_cases(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="0 case"):
        train(out=tmp_path / "m", cases=empty)


def test_shipped_model_names_the_current_training_data():
    """models/default is rebuilt by `make model` whenever its training data changes."""
    import json

    from btr.corpus import DEFAULT_CORPUS, DEFAULT_EXITS, DEFAULT_NEWS_TRAIN, DEFAULT_UNRELATED, corpus_hash
    from btr.models import LinearModel
    from btr.paths import DEFAULT_MODEL

    meta = json.loads((DEFAULT_MODEL / "meta.json").read_text(encoding="utf-8"))["corpus"]
    stale = "stale: run `make model`"
    assert meta["sha256"] == corpus_hash(DEFAULT_CORPUS), stale
    assert meta["unrelated_sha256"] == corpus_hash(DEFAULT_UNRELATED), stale
    assert meta["exits_sha256"] == corpus_hash(DEFAULT_EXITS), stale
    assert meta["news_train_sha256"] == corpus_hash(DEFAULT_NEWS_TRAIN), stale
    # and with the estimator's current defaults
    params = json.loads((DEFAULT_MODEL / "meta.json").read_text(encoding="utf-8"))["params"]
    defaults = LinearModel().get_params()
    assert {k: v for k, v in params.items() if k in defaults} == {
        k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items() if k in params
    }, stale
