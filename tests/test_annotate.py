"""The annotation loop: the generated config, and push / pull / agreement against a real Label Studio."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from btr.cli import main
from btr.corpus import load_cases, write_cases
from btr.errors import DataError, ServiceError
from btr.labelstudio import (
    CONFIG_FILE,
    FIELDS,
    agreement_report,
    connect,
    ensure_project,
    guidelines_summary,
    labeling_config,
    pull,
    push,
    read_articles,
)
from btr.schema import HEADS, Case, Trigger, label_names
from tests.conftest import make_record

CATEGORIES = ["btr", "other_resignation", "dismissal", "no_resignation", "non_public"]
TEXTS = {
    "btr": (
        "{name}因重大事故引咎辞职，国务院同意。",
        "{name} resigned taking responsibility for the accident.",
    ),
    "other_resignation": (
        "{name}另有任用，辞去原职。",
        "{name} left the post on appointment to another one.",
    ),
    "dismissal": ("{name}被免职，并接受调查。", "{name} was removed from the post and investigated."),
    "no_resignation": ("{name}道歉但拒绝辞职。", "{name} apologised but refused to resign."),
    "non_public": ("{name}辞去公司董事长职务。", "{name} resigned as chairman of the company."),
}


def _cases(good_record: dict, n: int = 10) -> list[Case]:
    cases = []
    for i in range(n):
        category = CATEGORIES[i % len(CATEGORIES)]
        zh, en = TEXTS[category]
        record = make_record(
            good_record,
            id=f"xx-{i:03d}",
            event_id=f"ev-{i:03d}",
            category=category,
            exit_status="refused" if category == "no_resignation" else "occurred",
            text={"zh": zh.format(name=f"官员{i}"), "en": en.format(name=f"Official {i}")},
        )
        cases.append(Case.model_validate(record))
    return cases


@pytest.fixture
def corpus_copy(tmp_path, good_record) -> Path:
    path = tmp_path / "cases.jsonl"
    write_cases(_cases(good_record), path)
    return path


@pytest.fixture
def conn(label_studio):
    return connect(label_studio.url, label_studio.token)


@pytest.fixture
def project(request) -> str:
    """A project title unique to the test (the server is shared by the session)."""
    return f"t-{request.node.name[5:40]}"


def _push(label_studio, project, tmp_path, **kwargs):
    return push(
        project, url=label_studio.url, api_key=label_studio.token, state_dir=tmp_path / "state", **kwargs
    )


def _pull(label_studio, project, tmp_path, into, **kwargs):
    return pull(
        project,
        into=into,
        url=label_studio.url,
        api_key=label_studio.token,
        state_dir=tmp_path / "state",
        **kwargs,
    )


def _tasks(conn, pid) -> dict[str, dict]:
    return {
        t.data["case_id"] if "case_id" in t.data else t.data["article_id"]: t
        for t in conn.client.tasks.list(project=pid, page_size=1000)
    }


def _choices(**values: str) -> list[dict]:
    return [
        {"from_name": k, "to_name": "text", "type": "choices", "value": {"choices": [v]}}
        for k, v in values.items()
    ]


def _texts(**values: str) -> list[dict]:
    return [
        {"from_name": k, "to_name": "text", "type": "textarea", "value": {"text": [v]}}
        for k, v in values.items()
    ]


@pytest.fixture(scope="session")
def annotators(label_studio) -> dict[str, int]:
    """Two annotators made through the API: email -> user id."""
    client = connect(label_studio.url, label_studio.token).client
    made = {}
    for name in ("ann", "bo"):
        user = client.users.create(username=name, email=f"{name}@btr.test", first_name=name)
        made[user.email] = user.id
    return made


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, good_record_session):
    """A real linear model trained through btr.models on the test cases."""
    from btr.models import train

    root = tmp_path_factory.mktemp("model")
    corpus = root / "cases.jsonl"
    write_cases(_cases(good_record_session, 20), corpus)
    return train(kind="linear", out=root / "tiny", cases=corpus, name="tiny", quiet=True).path


@pytest.fixture(scope="session")
def good_record_session() -> dict:
    return json.loads((Path(__file__).parent / "data" / "good_case.json").read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- config (no server)


def test_checked_in_config_equals_the_generated_one():
    assert CONFIG_FILE.read_text(encoding="utf-8") == labeling_config(), (
        "annotate/labeling_config.xml is stale: run `btr annotate config -o annotate/labeling_config.xml`"
    )


def test_config_has_every_head_label_with_a_hint_and_unique_hotkeys():
    root = ET.fromstring(labeling_config())
    hotkeys = [c.get("hotkey") for c in root.iter("Choice") if c.get("hotkey")]
    assert len(hotkeys) == len(set(hotkeys)) == sum(len(labels) for labels in HEADS.values())
    for head, labels in HEADS.items():
        [block] = [c for c in root.iter("Choices") if c.get("name") == head]
        assert block.get("required") == "true"
        assert [c.get("value") for c in block] == label_names(labels)
        assert all(c.get("hint") == label.hint for c, label in zip(block, labels, strict=True))
    names = {e.get("name") for e in root.iter() if e.get("name")}
    assert {f.name for f in FIELDS} | {"notes", "text", "source"} <= names
    assert {e.get("value") for e in root.iter("Header")} >= {"$title"}


def test_instructions_come_from_the_guidelines_summary(tmp_path):
    guide = tmp_path / "guidelines.md"
    guide.write_text(
        "# Guide\n\nIntro.\n\n## Summary\n\nLabel what the sources say.\n\n## 1. Cases\n\nMore.\n"
    )
    assert guidelines_summary(guide) == "Label what the sources say."
    assert 'value="Label what the sources say."' in labeling_config(guide)
    guide.write_text("# Guide\n\n## 1. Cases\n\nNo summary here.\n")
    assert "category:" in guidelines_summary(guide)
    assert "category:" in guidelines_summary(tmp_path / "missing.md")


def test_makefile_installs_the_server_release_btr_runs():
    import re

    from btr.server import LABEL_STUDIO_VERSION, ROOT

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^LABEL_STUDIO_VERSION := (\S+)$", makefile, re.M).group(1) == LABEL_STUDIO_VERSION


def test_read_articles_names_file_line_and_field(tmp_path):
    path = tmp_path / "articles.jsonl"
    path.write_text(
        '{"id": "a1", "text": "x"}\n{"id": "a2", "text": ""}\nnot json\n{"id": "a1", "text": "y"}\n'
    )
    with pytest.raises(DataError) as err:
        read_articles(path)
    text = str(err.value)
    assert f"{path}:2: text: missing or empty" in text
    assert f"{path}:3:" in text and "malformed JSON" in text
    assert f"{path}:4: id: duplicate id 'a1'" in text


def test_unreachable_server_is_one_clear_line_and_exit_4(corpus_copy, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret = "s3cret-token-never-printed"
    result = CliRunner().invoke(
        main,
        ["annotate", "push", "--project", "nowhere", "--cases", str(corpus_copy), "--no-model",
         "--state-dir", str(tmp_path), "--url", f"http://127.0.0.1:{port}", "--api-key", secret],
    )  # fmt: skip
    assert result.exit_code == 4
    assert result.output.startswith(f"error: Label Studio is unreachable at http://127.0.0.1:{port}")
    assert len(result.output.strip().splitlines()) == 1
    assert secret not in result.output


def test_missing_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    result = CliRunner().invoke(
        main, ["annotate", "agreement", "--project", "x", "--url", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 4
    assert "no Label Studio API key" in result.output


# ----------------------------------------------------------------------------- against the server


@pytest.mark.slow
@pytest.mark.labelstudio
def test_server_runs_the_pinned_release(label_studio):
    from btr.server import LABEL_STUDIO_VERSION

    assert label_studio.version() == LABEL_STUDIO_VERSION
    assert label_studio.url.startswith("http://127.0.0.1:")


@pytest.mark.slow
@pytest.mark.labelstudio
def test_wrong_token_gives_the_clear_error(label_studio, corpus_copy, tmp_path):
    wrong = "0" * 40
    result = CliRunner().invoke(
        main,
        ["annotate", "push", "--project", "never", "--cases", str(corpus_copy), "--no-model",
         "--state-dir", str(tmp_path), "--url", label_studio.url, "--api-key", wrong],
    )  # fmt: skip
    assert result.exit_code == 4
    assert (
        result.output
        == f"error: Label Studio at {label_studio.url} rejected the API key (401): check LABEL_STUDIO_API_KEY\n"
    )
    assert wrong not in result.output and label_studio.token not in result.output


@pytest.mark.slow
@pytest.mark.labelstudio
def test_missing_project_and_rejected_config_are_service_errors(label_studio, conn, tmp_path):
    result = CliRunner().invoke(
        main,
        ["annotate", "pull", "--project", "no-such-project", "--into", str(tmp_path / "c.jsonl"),
         "--state-dir", str(tmp_path), "--url", label_studio.url],
        env={"LABEL_STUDIO_API_KEY": label_studio.token},
    )  # fmt: skip
    assert result.exit_code == 4
    assert result.output == f"error: project 'no-such-project' not found on {label_studio.url}\n"
    with pytest.raises(ServiceError, match=r"refused the labeling config \(400\): .*nowhere"):
        ensure_project(
            conn,
            "bad-config",
            config='<View><Choices name="c" toName="nowhere"><Choice value="a"/></Choices></View>',
        )


@pytest.mark.slow
@pytest.mark.labelstudio
def test_pushing_twice_makes_no_duplicates_and_a_changed_case_updates_its_task(
    label_studio, conn, project, corpus_copy, tmp_path
):
    first = _push(label_studio, project, tmp_path, cases=corpus_copy)
    assert (first.created, first.updated, first.unchanged) == (10, 0, 0)
    again = _push(label_studio, project, tmp_path, cases=corpus_copy)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 10)
    # the state the pushes wrote never holds the API token
    written = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert written and not [f for f in written if label_studio.token.encode() in f.read_bytes()]

    cases = load_cases(corpus_copy)
    cases[3] = cases[3].model_copy(
        update={"text": cases[3].text.model_copy(update={"en": "Rewritten text."})}
    )
    write_cases(cases, corpus_copy)
    third = _push(label_studio, project, tmp_path, cases=corpus_copy)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 9)

    tasks = _tasks(conn, first.project_id)
    assert sorted(tasks) == [f"xx-{i:03d}" for i in range(10)]
    assert tasks["xx-003"].data["text"].endswith("Rewritten text.")
    state = json.loads((tmp_path / "state" / f"{project}.json").read_text())
    assert state["cases"]["xx-003"]["task_id"] == tasks["xx-003"].id


@pytest.mark.slow
@pytest.mark.labelstudio
def test_predictions_appear_in_the_export(label_studio, conn, project, corpus_copy, tmp_path, tiny_model):
    from btr.labelstudio.client import _export
    from btr.models import load_model

    model = load_model(tiny_model)
    result = _push(label_studio, project, tmp_path, cases=corpus_copy, model=tiny_model)
    assert result.predictions == 10
    tasks, _ = _export(conn, result.project_id, annotated_only=False)
    assert len(tasks) == 10
    for task in tasks:
        [prediction] = task["predictions"]
        assert prediction["model_version"] == model.version
        assert 0 < prediction["score"] <= 1
        heads = {r["from_name"]: r["value"]["choices"][0] for r in prediction["result"]}
        assert set(heads) == set(HEADS)
        assert all(heads[h] in label_names(HEADS[h]) for h in HEADS)
    # The prediction agrees with the model's own predict on the same texts (averaged over languages).
    case = load_cases(corpus_copy)[0]
    proba = model.predict_proba([case.text.zh, case.text.en])["category"].mean(axis=0)
    exported = next(t for t in tasks if t["data"]["case_id"] == case.id)["predictions"][0]
    assert exported["score"] == pytest.approx(float(proba.max()), abs=1e-4)


@pytest.mark.slow
@pytest.mark.labelstudio
def test_only_uncertain_picks_the_least_sure_items(
    label_studio, conn, project, corpus_copy, tmp_path, tiny_model
):
    from btr.models import load_model

    model = load_model(tiny_model)
    cases = load_cases(corpus_copy)
    proba = [model.predict_proba([c.text.zh, c.text.en])["category"].mean(axis=0) for c in cases]
    margins = {c.id: sorted(p)[-1] - sorted(p)[-2] for c, p in zip(cases, proba, strict=True)}
    expected = sorted(margins, key=margins.get)[:3]
    result = _push(label_studio, project, tmp_path, cases=corpus_copy, model=tiny_model, only_uncertain=3)
    assert (result.created, result.skipped_certain) == (3, 7)
    assert sorted(_tasks(conn, result.project_id)) == sorted(expected)


@pytest.mark.slow
@pytest.mark.labelstudio
def test_two_annotators_agreement_and_pull_into_a_copy(
    label_studio, conn, project, corpus_copy, tmp_path, annotators
):
    ann, bo = annotators["ann@btr.test"], annotators["bo@btr.test"]
    pushed = _push(label_studio, project, tmp_path, cases=corpus_copy)
    tasks = _tasks(conn, pushed.project_id)
    heads = {"trigger": "safety_accident", "responsibility": "leadership_main", "initiation": "ordered"}
    # xx-000 and xx-001: both agree (and change the labels). xx-002: they disagree on category.
    for cid in ("xx-000", "xx-001"):
        for who in (ann, bo):
            result = _choices(category="btr", **heads) + _texts(announced="2008-09-21")
            conn.client.annotations.create(id=tasks[cid].id, result=result, completed_by=who)
    conn.client.annotations.create(
        id=tasks["xx-002"].id, result=_choices(category="btr", **heads), completed_by=ann
    )
    conn.client.annotations.create(
        id=tasks["xx-002"].id, result=_choices(category="dismissal", **heads), completed_by=bo
    )
    # A skipped annotation counts for nothing.
    conn.client.annotations.create(id=tasks["xx-000"].id, result=[], was_cancelled=True)

    report = agreement_report(project, url=label_studio.url, api_key=label_studio.token)
    # category: (btr,btr) (btr,btr) (btr,dismissal) -> kappa with p_o = 2/3, p_e = 1 * 2/3 = 2/3: kappa = 0.
    [pair] = [p for p in report["pairs"] if p["field"] == "category"]
    assert (pair["a"], pair["b"], pair["items"]) == ("ann@btr.test", "bo@btr.test", 3)
    assert pair["kappa"] == pytest.approx(0.0)
    # alpha: coincidences (b,b) 4, (b,d) 1, (d,b) 1; n = 6, n_b = 5, n_d = 1:
    # D_o = 2/6, D_e = 2*5*1/30 = 1/3, alpha = 0.
    assert report["fields"]["category"]["alpha"] == pytest.approx(0.0)
    assert report["fields"]["trigger"]["alpha"] is None  # all agree on one label
    assert report["fields"]["trigger"]["items"] == 3

    before = {c.id: c for c in load_cases(corpus_copy)}
    result = _pull(label_studio, project, tmp_path, corpus_copy)
    after = {c.id: c for c in load_cases(corpus_copy)}
    assert result.dropped_annotations == 1
    assert result.updated_cases == ["xx-000", "xx-001", "xx-002"]
    assert after["xx-001"].category.value == "btr" and before["xx-001"].category.value == "other_resignation"
    assert after["xx-001"].trigger.value == "safety_accident"
    assert str(after["xx-001"].procedure.announced) == "2008-09-21"
    assert {a.annotator for a in after["xx-001"].curation.annotations} == {"ann@btr.test", "bo@btr.test"}
    assert all(a.origin == "label_studio" and a.blind for a in after["xx-001"].curation.annotations)
    # The disagreement leaves category as it was, takes the agreed heads, and is reported.
    assert after["xx-002"].category == before["xx-002"].category
    assert after["xx-002"].trigger.value == "safety_accident"
    [conflict] = result.conflicts
    assert (conflict["kind"], conflict["id"], conflict["field"]) == ("disagreement", "xx-002", "category")
    assert conflict["annotations"] == {"ann@btr.test": "btr", "bo@btr.test": "dismissal"}
    assert json.loads(result.conflicts_path.read_text())["field"] == "category"
    assert after["xx-004"] == before["xx-004"]

    # A second pull changes nothing more.
    again = _pull(label_studio, project, tmp_path, corpus_copy)
    assert again.updated_cases == [] and again.written is None


@pytest.mark.slow
@pytest.mark.labelstudio
def test_conflicting_local_edit_survives_and_is_reported(
    label_studio, conn, project, corpus_copy, tmp_path, annotators
):
    ann, bo = annotators["ann@btr.test"], annotators["bo@btr.test"]
    pushed = _push(label_studio, project, tmp_path, cases=corpus_copy)
    tasks = _tasks(conn, pushed.project_id)
    # A local edit after the push: xx-000's trigger (food_drug_safety) becomes public_health.
    cases = load_cases(corpus_copy)
    cases[0] = cases[0].model_copy(update={"trigger": Trigger.public_health})
    write_cases(cases, corpus_copy)
    for who in (ann, bo):
        result = _choices(
            category="btr", trigger="safety_accident", responsibility="supervisory", initiation="pressured"
        )
        result += _choices(apology="yes")
        conn.client.annotations.create(id=tasks["xx-000"].id, result=result, completed_by=who)

    cli = CliRunner().invoke(
        main,
        ["annotate", "pull", "--project", project, "--into", str(corpus_copy), "--state-dir", str(tmp_path / "state"),
         "--url", label_studio.url],
        env={"LABEL_STUDIO_API_KEY": label_studio.token},
    )  # fmt: skip
    assert cli.exit_code == 3, cli.output
    conflicts_path = tmp_path / "state" / f"{project}.conflicts.jsonl"
    assert f"1 conflicts (1 local_edit) written to {conflicts_path}" in cli.output
    [conflict] = [json.loads(line) for line in conflicts_path.read_text().splitlines()]
    assert conflict == {
        "kind": "local_edit",
        "id": "xx-000",
        "task_id": tasks["xx-000"].id,
        "field": "trigger",
        "local": "public_health",
        "remote": "safety_accident",
        "base": "food_drug_safety",
    }
    case = {c.id: c for c in load_cases(corpus_copy)}["xx-000"]
    assert case.trigger.value == "public_health"  # the local edit survives
    assert case.procedure.apology.value == "yes"  # the other field merged

    # Reported once: the next pull keeps the local value without a new conflict, and removes the file.
    again = _pull(label_studio, project, tmp_path, corpus_copy)
    assert again.conflicts == []
    assert not conflicts_path.exists()
    assert {c.id: c for c in load_cases(corpus_copy)}["xx-000"].trigger.value == "public_health"


@pytest.mark.slow
@pytest.mark.labelstudio
def test_local_label_edit_survives_a_repush_of_its_edited_text(
    label_studio, conn, project, corpus_copy, tmp_path, annotators
):
    """Editing a case's label and then its text locally, and pushing the new text, must not make
    the next pull take Label Studio's label over the local edit."""
    ann, bo = annotators["ann@btr.test"], annotators["bo@btr.test"]
    pushed = _push(label_studio, project, tmp_path, cases=corpus_copy)
    cases = load_cases(corpus_copy)
    cases[1] = cases[1].model_copy(
        update={
            "trigger": Trigger.public_health,
            "text": cases[1].text.model_copy(update={"en": "New text."}),
        }
    )
    write_cases(cases, corpus_copy)
    repushed = _push(label_studio, project, tmp_path, cases=corpus_copy)
    assert repushed.updated == 1
    task = _tasks(conn, pushed.project_id)["xx-001"]
    for who in (ann, bo):
        conn.client.annotations.create(
            id=task.id, result=_choices(trigger="safety_accident"), completed_by=who
        )

    result = _pull(label_studio, project, tmp_path, corpus_copy)
    assert [(c["id"], c["field"], c["local"]) for c in result.conflicts] == [
        ("xx-001", "trigger", "public_health")
    ]
    assert {c.id: c for c in load_cases(corpus_copy)}["xx-001"].trigger.value == "public_health"


@pytest.mark.slow
@pytest.mark.labelstudio
def test_article_annotated_as_a_new_case_becomes_a_case(
    label_studio, conn, project, corpus_copy, tmp_path, annotators
):
    articles = tmp_path / "articles.jsonl"
    rows = [
        {"id": "news-1", "text": "某市市长因化工厂爆炸引咎辞职。", "title": "市长辞职", "date": "2015-08-20",
         "url": "https://example.org/news-1", "publisher": "Example Daily", "language": "zh"},
        {"id": "news-2", "text": "A football coach left the club.", "url": "https://example.org/news-2"},
    ]  # fmt: skip
    articles.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    pushed = _push(label_studio, project, tmp_path, articles=articles)
    assert pushed.created == 2
    assert _push(label_studio, project, tmp_path, articles=articles).unchanged == 2
    tasks = _tasks(conn, pushed.project_id)
    new_case = _choices(category="btr", trigger="safety_accident", responsibility="leadership_main",
                        initiation="pressured", level="municipal")  # fmt: skip
    new_case += _texts(
        official_name="王某",
        official_name_en="Wang Mou",
        post="某市市长",
        post_en="Mayor of a city",
        country="CN",
        event_date="2015-08-12",
        summary_zh="市长因爆炸辞职。",
        summary_en="The mayor resigned over the blast.",
    )
    conn.client.annotations.create(
        id=tasks["news-1"].id, result=new_case, completed_by=annotators["ann@btr.test"]
    )
    # The second annotator words the summary differently (free text: the latest wins) and adds a note.
    reworded = [r for r in new_case if r["from_name"] != "summary_en"]
    reworded += _texts(summary_en="The mayor quit after the chemical blast.", notes="Check the date.")
    conn.client.annotations.create(
        id=tasks["news-1"].id, result=reworded, completed_by=annotators["bo@btr.test"]
    )
    not_case = _choices(
        category="non_public", trigger="none", responsibility="none", initiation="not_applicable"
    )
    conn.client.annotations.create(
        id=tasks["news-2"].id, result=not_case, completed_by=annotators["ann@btr.test"]
    )

    result = _pull(label_studio, project, tmp_path, corpus_copy)
    assert result.new_cases == ["cn-2015-wang-mou"]
    assert result.articles_not_cases == 1
    assert result.conflicts == []
    case = {c.id: c for c in load_cases(corpus_copy)}["cn-2015-wang-mou"]
    assert (case.official.name, case.official.level.value, case.country) == ("王某", "municipal", "CN")
    assert str(case.sources[0].url) == "https://example.org/news-1"
    assert case.sources[0].publisher == "Example Daily"
    assert not case.curation.verified
    assert case.text.en == "The mayor quit after the chemical blast."
    assert "[bo@btr.test] Check the date." in case.curation.notes
    assert {a.annotator for a in case.curation.annotations} == {"ann@btr.test", "bo@btr.test"}
    assert len(load_cases(corpus_copy)) == 11
    # Pulling again does not add it twice.
    assert _pull(label_studio, project, tmp_path, corpus_copy).new_cases == []
    assert len(load_cases(corpus_copy)) == 11


@pytest.mark.slow
@pytest.mark.labelstudio
def test_agreement_cli_on_an_export_file(label_studio, conn, project, corpus_copy, tmp_path, annotators):
    from btr.labelstudio.client import _export

    pushed = _push(label_studio, project, tmp_path, cases=corpus_copy)
    tasks = _tasks(conn, pushed.project_id)
    for cid, (a, b) in {"xx-000": ("btr", "btr"), "xx-001": ("dismissal", "dismissal")}.items():
        for who, label in zip(annotators.values(), (a, b), strict=True):
            heads = {"trigger": "none", "responsibility": "none", "initiation": "unknown"}
            conn.client.annotations.create(
                id=tasks[cid].id, result=_choices(category=label, **heads), completed_by=who
            )
    exported, _ = _export(conn, pushed.project_id)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported), encoding="utf-8")
    result = CliRunner().invoke(main, ["annotate", "agreement", "--export", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["fields"]["category"] == {"alpha": 1.0, "items": 2, "annotators": 2, "note": ""}

    # The same export merges without the server; the state is matched by the project id it carries.
    merged = pull(project, into=corpus_copy, export=path, state_dir=tmp_path / "state")
    assert merged.updated_cases == ["xx-000", "xx-001"]
    after = {c.id: c for c in load_cases(corpus_copy)}
    assert (after["xx-001"].category.value, after["xx-001"].trigger.value) == ("dismissal", "none")
    assert merged.conflicts == []


@pytest.mark.slow
@pytest.mark.labelstudio
def test_serve_starts_pushes_reports_the_login_and_stops(label_studio, corpus_copy, tmp_path):
    import shutil
    import urllib.request

    from btr.labelstudio import serve

    # A data directory made from the session's template, with the login serve keeps beside it.
    data_dir = tmp_path / "ls"
    shutil.copytree(label_studio.template, data_dir)
    creds = {"username": label_studio.username, "password": "btr-test-password", "token": label_studio.token}
    (data_dir / "btr-credentials.json").write_text(json.dumps(creds))
    seen = []
    info = serve(
        project="served",
        data_dir=data_dir,
        port=None,
        cases=corpus_copy,
        state_dir=tmp_path / "state",
        on_ready=seen.append,
        wait=False,
    )
    assert seen == [info]
    assert info.url.startswith("http://127.0.0.1:") and info.url != label_studio.url
    assert info.project_url.startswith(f"{info.url}/projects/")
    assert (info.username, info.password) == (label_studio.username, "btr-test-password")
    assert (info.push.created, info.push.predictions) == (10, 0)
    assert label_studio.token not in repr(info)
    with pytest.raises(OSError):  # stopped on return
        urllib.request.urlopen(f"{info.url}/health", timeout=2)
