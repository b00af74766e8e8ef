import json

import pytest
from click.testing import CliRunner

from btr import __version__
from btr.cli import main
from btr.corpus import load_cases, write_cases
from tests.conftest import make_record


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def corpus_file(tmp_path, synthetic_cases):
    return write_cases(synthetic_cases, tmp_path / "cases.jsonl")


@pytest.fixture
def bad_file(tmp_path, good_record):
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps(good_record), json.dumps(make_record(good_record, id="cn-2", trigger="earthquake"))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_version_and_help(runner):
    assert runner.invoke(main, ["--version"]).output.strip().endswith(__version__)
    result = runner.invoke(main, ["-h"])
    assert result.exit_code == 0 and "corpus" in result.output


def test_validate_clean_exits_zero(runner, corpus_file):
    result = runner.invoke(main, ["corpus", "validate", str(corpus_file)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.stderr


def test_validate_bad_exits_one_naming_file_line_field(runner, bad_file):
    result = runner.invoke(main, ["corpus", "validate", str(bad_file)])
    assert result.exit_code == 1
    assert f"{bad_file}:2: trigger: 'earthquake' is not one of" in result.stdout


def test_validate_json(runner, bad_file):
    result = runner.invoke(main, ["corpus", "validate", "--json", str(bad_file)])
    assert result.exit_code == 1
    (problem,) = json.loads(result.stdout)
    assert (problem["line"], problem["field"]) == (2, "trigger")


def test_validate_missing_file_is_a_clear_error(runner, tmp_path):
    result = runner.invoke(main, ["corpus", "validate", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 1
    assert "no such file" in result.stderr


@pytest.mark.parametrize(
    ("flag", "needle"),
    [("--json", '"verified_share"'), ("--markdown", "| category | cases |"), (None, "cases 60")],
)
def test_stats_formats(runner, corpus_file, flag, needle):
    args = ["corpus", "stats", str(corpus_file)] + ([flag] if flag else [])
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert needle in result.stdout


def test_stats_on_bad_corpus_fails_cleanly(runner, bad_file):
    result = runner.invoke(main, ["corpus", "stats", str(bad_file)])
    assert result.exit_code == 1
    assert "problem(s)" in result.stderr and "Traceback" not in result.output


def test_export_cli(runner, corpus_file, tmp_path):
    out = tmp_path / "exp"
    result = runner.invoke(
        main, ["corpus", "export", "--format", "csv", "--out", str(out), "--cases", str(corpus_file)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["test.csv", "train.csv", "validation.csv"]


def test_export_rejects_unknown_format(runner, tmp_path):
    result = runner.invoke(main, ["corpus", "export", "--format", "xlsx", "--out", str(tmp_path)])
    assert result.exit_code == 2


def test_merge_adds_and_refuses_silent_replacement(runner, corpus_file, tmp_path, good_record):
    staged = tmp_path / "staged.jsonl"
    staged.write_text(json.dumps(good_record, ensure_ascii=False) + "\n", encoding="utf-8")
    result = runner.invoke(main, ["corpus", "merge", str(staged), "--into", str(corpus_file)])
    assert result.exit_code == 0, result.output
    assert "added 1" in result.stderr
    assert len(load_cases(corpus_file)) == 61

    changed = make_record(good_record, **{"curation.notes": "edited"})
    staged.write_text(json.dumps(changed, ensure_ascii=False) + "\n", encoding="utf-8")
    before = corpus_file.read_bytes()
    result = runner.invoke(main, ["corpus", "merge", str(staged), "--into", str(corpus_file)])
    assert result.exit_code == 1 and "use --replace" in result.stderr
    assert corpus_file.read_bytes() == before
    result = runner.invoke(main, ["corpus", "merge", str(staged), "--into", str(corpus_file), "--replace"])
    assert result.exit_code == 0 and "replaced 1" in result.stderr
