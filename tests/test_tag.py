"""btr.tag and ``btr tag``: records, formats, rejects, --strict, --resume, and the Dask engine."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from btr.cli import main
from btr.errors import DataError, InputError
from btr.models import load_model
from btr.schema import HEADS
from btr.tag import TagSummary, tag, tag_batch

ARTICLES = [
    ("zh-btr", "2008年9月14日，国务院同意孟学农辞去山西省省长职务。此前襄汾县尾矿库溃坝事故造成277人死亡。"),
    (
        "en-btr",
        "The transport minister resigned on Friday, taking responsibility for the rail crash that killed 40.",
    ),
    ("zh-tw", "臺北市長因颱風應變不力引咎辭職。市議會要求說明責任歸屬。"),
    ("en-other", "The mayor stepped down for health reasons after ten years in office, his office said."),
    ("zh-dismiss", "该县县长因违纪被免职，并接受纪律审查。"),
    ("en-stay", "The governor apologised for the flood response but refused calls to resign."),
]


@pytest.fixture(scope="module")
def model_dir(small_model) -> Path:
    return small_model


@pytest.fixture
def news(tmp_path) -> Path:
    path = tmp_path / "news.jsonl"
    lines = [json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in ARTICLES]
    lines.insert(2, '{"id": "broken", "text": ')
    lines.insert(4, json.dumps({"id": "no-text", "title": "x"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_records_and_summary(model_dir, news, tmp_path):
    out = tmp_path / "tags.jsonl"
    summary = tag([news], model=model_dir, out=out, quiet=True)
    records = read_jsonl(out)
    model = load_model(model_dir)
    assert [r["id"] for r in records] == [i for i, _ in ARTICLES]
    for record in records:
        assert list(record) == ["id", "is_btr", *HEADS]
        for head in HEADS:
            assert set(record[head]) == {"label", "score"}
            assert record[head]["label"] in model.heads[head]
            assert 0.0 <= record[head]["score"] <= 1.0
        assert record["is_btr"] == (record["category"]["label"] == "btr")
    assert (summary.tagged, summary.rejected, summary.skipped) == (6, 2, 0)
    assert sum(summary.categories.values()) == 6
    assert summary.categories == {
        label: sum(r["category"]["label"] == label for r in records) for label in summary.categories
    }
    assert "tagged 6" in summary.describe()
    assert summary.out == str(out)


def test_records_agree_with_the_model_and_the_batch_size(model_dir, news, tmp_path):
    model = load_model(model_dir)
    expected = model.predict([t for _, t in ARTICLES])
    one, big = tmp_path / "one.jsonl", tmp_path / "big.jsonl"
    tag([news], model=model_dir, out=one, batch_size=1, quiet=True)
    tag([news], model=model_dir, out=big, batch_size=512, quiet=True)
    assert one.read_bytes() == big.read_bytes()
    loaded = tmp_path / "loaded.jsonl"  # a model already in memory gives the same records
    tag([news], model=model, out=loaded, quiet=True)
    assert loaded.read_bytes() == big.read_bytes()
    for record, prediction in zip(read_jsonl(one), expected, strict=True):
        for head in HEADS:
            assert record[head]["label"] == prediction[head]["label"]
            assert record[head]["score"] == pytest.approx(prediction[head]["score"], abs=1e-4)


def test_csv_output(model_dir, news, tmp_path):
    out = tmp_path / "tags.csv"
    tag([news], model=model_dir, out=out, format="csv", explain=True, quiet=True)
    with open(out, encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    expected_columns = ["id", "is_btr"] + [c for h in HEADS for c in (h, f"{h}_score")] + ["explanation"]
    assert list(rows[0]) == expected_columns
    assert [r["id"] for r in rows] == [i for i, _ in ARTICLES]
    assert {r["is_btr"] for r in rows} <= {"true", "false"}
    assert all(0.0 <= float(r["category_score"]) <= 1.0 for r in rows)


def test_explanation_quotes_the_original_text(model_dir, news, tmp_path):
    out = tmp_path / "tags.jsonl"
    tag([news], model=model_dir, out=out, explain=True, quiet=True)
    texts = dict(ARTICLES)
    for record in read_jsonl(out):
        assert record["explanation"]
        assert record["explanation"] in texts[record["id"]]
    traditional = next(r for r in read_jsonl(out) if r["id"] == "zh-tw")
    assert "辭職" in traditional["explanation"] or "議會" in traditional["explanation"]


def test_rejects_file(model_dir, news, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    tag([news], model=model_dir, out=tmp_path / "o.jsonl", rejects=rejects, quiet=True)
    assert read_jsonl(rejects) == [
        {
            "file": str(news),
            "line": 3,
            "field": "",
            "reason": "malformed JSON: Expecting value at column 26",
        },
        {"file": str(news), "line": 5, "field": "text", "reason": "missing text field", "id": "no-text"},
    ]


def test_strict_stops_at_the_first_bad_record(model_dir, news, tmp_path):
    out = tmp_path / "o.jsonl"
    with pytest.raises(DataError, match=r"--strict") as info:
        tag([news], model=model_dir, out=out, strict=True, quiet=True)
    assert [p.line for p in info.value.problems] == [3]
    assert [r["id"] for r in read_jsonl(out)] == ["zh-btr", "en-btr"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_resume_skips_finished_ids(model_dir, news, tmp_path, fmt):
    out = tmp_path / f"tags.{fmt}"
    first = tmp_path / "first.jsonl"
    first.write_text(
        "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in ARTICLES[:2]),
        encoding="utf-8",
    )
    tag([first], model=model_dir, out=out, format=fmt, quiet=True)
    with open(out, "a", encoding="utf-8") as stream:  # a run killed mid-line
        stream.write('{"id": "zh-tw", "is_b' if fmt == "jsonl" else "zh-tw,tr")
    summary = tag([news], model=model_dir, out=out, format=fmt, resume=True, quiet=True)
    assert (summary.skipped, summary.tagged) == (2, 4)
    if fmt == "jsonl":
        ids = [r["id"] for r in read_jsonl(out)]
    else:
        with open(out, encoding="utf-8", newline="") as stream:
            ids = [r["id"] for r in csv.DictReader(stream)]
    assert ids == [i for i, _ in ARTICLES]
    fresh = tmp_path / f"fresh.{fmt}"
    tag([news], model=model_dir, out=fresh, format=fmt, quiet=True)
    assert out.read_bytes() == fresh.read_bytes()


def test_resume_needs_an_output_file(model_dir, news):
    with pytest.raises(InputError, match="--resume needs an output file"):
        tag([news], model=model_dir, resume=True, quiet=True)


def test_resume_refuses_a_foreign_file(model_dir, news, tmp_path):
    out = tmp_path / "other.jsonl"
    out.write_text('{"name": "not a tag record"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="cannot resume"):
        tag([news], model=model_dir, out=out, resume=True, quiet=True)


def test_mixed_inputs_keep_the_original_text(model_dir, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    gbk_text = "2003年4月20日，北京市市长孟学农因防治非典不力引咎辞职。"
    big5_text = "臺北市長因颱風應變不力引咎辭職。"
    (folder / "gbk.txt").write_bytes(gbk_text.encode("gbk"))
    (folder / "big5.txt").write_bytes(big5_text.encode("big5"))
    (folder / "page.html").write_text(
        f"<html><head><meta charset='utf-8'><title>辞职</title></head><body><article><p>{gbk_text}</p>"
        f"<p>调查组认定这是一起重大责任事故，有关责任人将被依法追究。</p></article></body></html>",
        encoding="utf-8",
    )
    (folder / "blob.txt").write_bytes(bytes(range(256)))
    out = tmp_path / "o.jsonl"
    summary = tag([folder], model=model_dir, out=out, explain=True, quiet=True)
    records = {Path(r["id"]).name: r for r in read_jsonl(out)}
    assert sorted(records) == ["big5.txt", "gbk.txt", "page.html"]
    assert summary.rejected == 1
    assert summary.problems[0].file.endswith("blob.txt")
    assert records["big5.txt"]["explanation"] == big5_text
    assert records["gbk.txt"]["explanation"] == gbk_text


def test_tag_batch_is_the_unit_of_work(model_dir):
    model = load_model(model_dir)
    records = tag_batch(model, ["a", "b"], [ARTICLES[0][1], ARTICLES[1][1]])
    assert [r["id"] for r in records] == ["a", "b"]
    assert tag_batch(model, [], []) == []


def test_demo_step_tags_every_sample(model_dir, tmp_path):
    from btr.demo import SAMPLES, step_tag

    result = step_tag(tmp_path, model=model_dir)
    samples = len(read_jsonl(SAMPLES / "news.jsonl")) + len(list(SAMPLES.glob("*.html")))
    assert (result["tagged"], result["rejected"]) == (samples + len(list(SAMPLES.glob("*.txt"))), 0)
    assert len(read_jsonl(tmp_path / "tags.jsonl")) == result["tagged"]
    assert all(r["note"] == "written for btr from public reports" for r in read_jsonl(SAMPLES / "news.jsonl"))


# ------------------------------------------------------------------ CLI


def test_cli_stdout_jsonl_and_summary_on_stderr(model_dir, news):
    result = CliRunner().invoke(main, ["tag", str(news), "--model", str(model_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in lines] == [i for i, _ in ARTICLES]
    assert "tagged 6" in result.stderr
    assert "rejected 2" in result.stderr


def test_cli_stdin_and_csv(model_dir):
    stdin = "".join(json.dumps({"doc": i, "body": t}, ensure_ascii=False) + "\n" for i, t in ARTICLES[:2])
    result = CliRunner().invoke(
        main,
        [
            "tag",
            "-",
            "--model",
            str(model_dir),
            "--format",
            "csv",
            "--text-field",
            "body",
            "--id-field",
            "doc",
        ],
        input=stdin.encode(),
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert [r["id"] for r in rows] == ["zh-btr", "en-btr"]


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (["--strict"], 1),
        ([], 0),
        (["--resume"], 1),
        (["--format", "xml"], 2),
    ],
)
def test_cli_exit_codes(model_dir, news, tmp_path, extra, code):
    result = CliRunner().invoke(main, ["tag", str(news), "--model", str(model_dir), "--quiet", *extra])
    assert result.exit_code == code, result.output


def test_cli_missing_model_and_input(model_dir, news, tmp_path):
    runner = CliRunner()
    missing_model = runner.invoke(main, ["tag", str(news), "--model", str(tmp_path / "none")])
    assert missing_model.exit_code == 5
    assert "no model here" in missing_model.stderr
    missing_input = runner.invoke(main, ["tag", str(tmp_path / "none.jsonl"), "--model", str(model_dir)])
    assert missing_input.exit_code == 1
    assert "no such file" in missing_input.stderr


def test_cli_rejects_and_output_file(model_dir, news, tmp_path):
    out, rejects = tmp_path / "o.csv", tmp_path / "r.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "tag",
            str(news),
            "--model",
            str(model_dir),
            "-o",
            str(out),
            "--format",
            "csv",
            "--rejects",
            str(rejects),
        ],
        env={"BTR_QUIET": "1"},
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert len(out.read_text(encoding="utf-8").splitlines()) == 7
    assert [r["line"] for r in read_jsonl(rejects)] == [3, 5]
    assert f"all in {rejects}" in result.stderr


# ------------------------------------------------------------------ Dask


@pytest.mark.slow
def test_dask_engine_output_equals_local(model_dir, tmp_path):
    import distributed

    path = tmp_path / "many.jsonl"
    with open(path, "w", encoding="utf-8") as stream:
        for n in range(60):
            i, text = ARTICLES[n % len(ARTICLES)]
            stream.write(json.dumps({"id": f"{i}-{n}", "text": f"{text} ({n})"}, ensure_ascii=False) + "\n")
            if n % 25 == 0:
                stream.write("{not json\n")
    local, remote = tmp_path / "local.jsonl", tmp_path / "dask.jsonl"
    expected = tag([path], model=model_dir, out=local, batch_size=7, explain=True, quiet=True)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        got = tag(
            [path],
            model=model_dir,
            out=remote,
            batch_size=7,
            explain=True,
            quiet=True,
            engine="dask",
            scheduler=cluster.scheduler_address,
        )
        assert len(cluster.workers) == 2
    assert remote.read_bytes() == local.read_bytes()
    assert isinstance(got, TagSummary)
    assert (got.tagged, got.rejected, got.categories) == (
        expected.tagged,
        expected.rejected,
        expected.categories,
    )
    assert got.engine == "dask"


@pytest.mark.slow
def test_dask_unreachable_scheduler_is_a_service_error(model_dir, news):
    result = CliRunner().invoke(
        main,
        ["tag", str(news), "--model", str(model_dir), "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"],
        env={"BTR_QUIET": "1"},
    )
    assert result.exit_code == 4, result.output
    assert "cannot reach the Dask scheduler" in result.stderr


@pytest.mark.slow
def test_cli_dask_starts_its_own_local_cluster(model_dir, news):
    runner = CliRunner()
    base = ["tag", str(news), "--model", str(model_dir), "--quiet", "--batch-size", "2"]
    local = runner.invoke(main, base)
    dask = runner.invoke(main, [*base, "--engine", "dask", "--workers", "2"])
    assert (local.exit_code, dask.exit_code) == (0, 0), dask.output
    assert dask.stdout == local.stdout
    assert "dask engine" in dask.stderr


def test_demo_mixed_step_tags_a_sample_mostly_of_unrelated_news(model_dir, tmp_path):
    from btr.demo import step_mixed

    result = step_mixed(tmp_path, model=model_dir, n=40)
    tagged = read_jsonl(tmp_path / "mixed_tags.jsonl")
    sample = read_jsonl(tmp_path / "mixed_sample.jsonl")
    assert [t["id"] for t in tagged] == [s["id"] for s in sample] and len(sample) == 40
    assert "(40 articles: 30 unrelated)" in result["sample"]
    right, of = result["category right"].split(" of ")
    assert int(of) == 40 and 0 <= int(right) <= 40


def test_cli_outside_the_checkout_finds_the_shipped_model(tmp_path):
    # paths are resolved from the package, never from the current directory
    btr = Path(sys.executable).with_name("btr")
    done = subprocess.run(
        [str(btr), "tag", "-"],
        input='{"id": "a1", "text": "知事が引責辞任を表明した。"}\n',
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "BTR_QUIET": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == "a1"
