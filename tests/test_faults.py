"""Fault injection: damaged inputs cost exactly the records they touch, and nothing else is lost.

Every test builds its own inputs and checks the same ledger: the ids tagged plus the
ids (or lines) rejected are exactly the ids of the input. Reading is checked on
:func:`btr.readers.read_articles` (fast, many seeds) and end to end through
:func:`btr.tag.tag` and the ``btr`` command, including runs stopped by SIGTERM and
SIGINT and completed with ``--resume``.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from btr.errors import Problem, UsageError
from btr.readers import MAX_LINE_BYTES, Article, read_articles
from btr.tag import tag

TEXTS = [
    "国务院同意孟学农辞去山西省省长职务。",
    "The minister resigned on Friday over the rail crash.",
    "臺北市長因颱風應變不力引咎辭職。",
    "知事は豪雨災害の対応の責任を取って辞任した。",
    "장관이 참사에 책임을 지고 사퇴했다.",
    "Le ministre a démissionné après l'accident.",
]


def records(n: int) -> list[dict]:
    return [{"id": f"a{i:04d}", "text": TEXTS[i % len(TEXTS)]} for i in range(n)]


def jsonl_lines(items: list[dict]) -> list[bytes]:
    return [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in items]


def ledger(items) -> tuple[dict[str, int], dict[int, Problem]]:
    """``({id: line}, {line: problem})`` of a read; an id read twice fails the test."""
    seen: dict[str, int] = {}
    problems: dict[int, Problem] = {}
    for item in items:
        if isinstance(item, Article):
            assert item.id not in seen, f"{item.id} read twice"
            seen[item.id] = item.line
        else:
            assert item.line not in problems, f"two problems on line {item.line}"
            problems[item.line] = item
    return seen, problems


# ------------------------------------------------------------------ JSONL, record by record


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    damage=st.lists(
        st.tuples(st.integers(0, 19), st.integers(0, 200), st.binary(min_size=1, max_size=40)),
        min_size=1,
        max_size=6,
    )
)
def test_random_bytes_inside_lines_cost_only_those_lines(tmp_path_factory, damage):
    items = records(20)
    lines = jsonl_lines(items)
    damaged = set()
    for line, at, junk in damage:
        junk = junk.replace(b"\n", b"")
        if not junk:
            continue
        # inside the text value (after '"text": "'), so that the id stays what it was
        start = lines[line].index(b'"text": "') + len(b'"text": "')
        pos = start + at % (len(lines[line]) - start - 1)
        lines[line] = lines[line][:pos] + junk + lines[line][pos:]
        damaged.add(line + 1)
    path = tmp_path_factory.mktemp("bytes") / "damaged.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    seen, problems = ledger(read_articles([path]))
    rejected_ids = {items[line - 1]["id"] for line in problems}
    assert set(problems) <= damaged
    assert set(seen) | rejected_ids == {r["id"] for r in items}
    assert not set(seen) & rejected_ids
    assert all(seen[r["id"]] == i + 1 for i, r in enumerate(items) if r["id"] in seen)


@settings(max_examples=40, deadline=None)
@given(junk=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=5), seed=st.integers(0, 10**6))
def test_garbage_between_records_never_costs_a_good_record(tmp_path_factory, junk, seed):
    import random

    items = records(12)
    good = jsonl_lines(items)
    rng = random.Random(seed)
    blob = list(good)
    for piece in junk:
        blob.insert(rng.randrange(len(blob) + 1), piece.replace(b"\n", b"\x00"))
    path = tmp_path_factory.mktemp("garbage") / "mixed.jsonl"
    path.write_bytes(b"\n".join(blob) + b"\n")
    seen, problems = ledger(read_articles([path]))
    assert set(seen) == {r["id"] for r in items}
    good_lines = {i + 1 for i, line in enumerate(blob) if line in good}
    assert not set(problems) & good_lines


def test_the_reported_reproduction_300_random_bytes(tmp_path):
    """Two good articles, three bad lines and 300 random bytes: both articles are kept (20 of 20 tries)."""
    import random

    for attempt in range(20):
        rng = random.Random(attempt)
        noise = bytes(rng.randrange(256) for _ in range(300))
        body = b"\n".join(
            [
                json.dumps({"id": "zh", "text": TEXTS[0]}, ensure_ascii=False).encode(),
                b'{"id": "bad1", "text": ',
                b"not json at all",
                b'["a list"]',
                noise,
                json.dumps({"id": "en", "text": TEXTS[1]}).encode(),
            ]
        )
        path = tmp_path / f"try{attempt}.jsonl"
        path.write_bytes(body + b"\n")
        seen, problems = ledger(read_articles([path]))
        assert set(seen) == {"zh", "en"}, attempt
        assert {2, 3, 4} <= set(problems)


def test_nul_bytes_lone_surrogates_crlf_and_bom(tmp_path):
    lines = jsonl_lines(records(6))
    lines[0] = b"\xef\xbb\xbf" + lines[0]  # BOM on the first line
    lines[1] = lines[1].replace(b'"text": "', b'"text": "\x00')  # a raw NUL
    lines[2] = json.dumps({"id": "a0002", "text": "lone \ud800 surrogate"}).encode()  # escaped: valid JSON
    lines[3] = json.dumps({"id": "bad\udfff", "text": "surrogate in the id"}).encode()
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")  # CRLF line ends
    seen, problems = ledger(read_articles([path]))
    assert set(seen) == {"a0000", "a0004", "a0005"}
    assert sorted(problems) == [2, 3, 4]
    assert "malformed JSON" in problems[2].message
    assert "lone surrogate" in problems[3].message and problems[3].id == "a0002"
    assert "lone surrogate" in problems[4].message and problems[4].field == "id"


def test_mixed_utf8_and_gbk_lines(tmp_path):
    items = records(6)
    lines = [
        json.dumps(r, ensure_ascii=False).encode("gbk" if i % 3 == 0 else "utf-8")
        for i, r in enumerate(items)
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    seen, problems = ledger(read_articles([path]))
    assert set(seen) == {r["id"] for i, r in enumerate(items) if i % 3}
    assert sorted(problems) == [1, 4]  # the GBK lines, by line number; JSONL is UTF-8
    # the same rows as CSV: legacy lines are detected as such and kept, UTF-8 lines stay UTF-8
    csv_path = tmp_path / "mixed.csv"
    rows = [b"id,text"] + [
        f"{r['id']},{r['text']}".encode("gbk" if i % 3 == 0 else "utf-8") for i, r in enumerate(items)
    ]
    csv_path.write_bytes(b"\n".join(rows) + b"\n")
    seen, problems = ledger(read_articles([csv_path]))
    assert problems == {}
    assert set(seen) == {r["id"] for r in items}


def test_a_line_longer_than_the_limit_is_rejected_and_its_neighbours_kept(tmp_path):
    items = records(3)
    lines = jsonl_lines(items)
    huge = json.dumps({"id": "huge", "text": "x" * (MAX_LINE_BYTES + 30 * 2**20)}).encode()  # 50 MB
    path = tmp_path / "huge.jsonl"
    path.write_bytes(b"\n".join([lines[0], huge, lines[1], lines[2]]) + b"\n")
    seen, problems = ledger(read_articles([path]))
    assert set(seen) == {"a0000", "a0001", "a0002"}
    assert list(problems) == [2]
    assert "longer than the limit" in problems[2].message
    assert seen == {"a0000": 1, "a0001": 3, "a0002": 4}


def test_truncated_gzip_keeps_what_was_read_and_says_where_it_broke(tmp_path):
    items = records(2000)
    data = gzip.compress(b"\n".join(jsonl_lines(items)) + b"\n")
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    seen, problems = ledger(read_articles([path]))
    kept = [r["id"] for r in items if r["id"] in seen]
    assert kept == [r["id"] for r in items[: len(kept)]]  # a prefix, in order, nothing skipped
    assert 0 < len(kept) < len(items)
    (line,) = problems
    assert line == len(kept) + 1
    assert f"breaks off after line {len(kept)}" in problems[line].message


@pytest.mark.parametrize("header", ["id,body", "id,Text"])
def test_csv_with_a_missing_or_renamed_text_column_rejects_every_row_by_id(tmp_path, header):
    path = tmp_path / "news.csv"
    path.write_text(header + "\n" + "".join(f"r{i},text {i}\n" for i in range(5)), encoding="utf-8")
    seen, problems = ledger(read_articles([path]))
    assert seen == {}
    assert {p.id for p in problems.values()} == {f"r{i}" for i in range(5)}


def test_directory_with_a_png_and_a_symlink_loop(tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    (root / "one.txt").write_text(TEXTS[1], encoding="utf-8")
    (root / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (root / "loop.txt").symlink_to(root / "loop.txt")
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)  # a directory loop
    items = list(read_articles([root]))
    articles = [i for i in items if isinstance(i, Article)]
    problems = [i for i in items if isinstance(i, Problem)]
    assert [Path(a.id).name for a in articles] == ["one.txt"]
    assert sorted(Path(p.file).name for p in problems) == ["loop.txt", "photo.png"]


def test_stdin_closed_early_keeps_the_whole_lines(tmp_path):
    import io

    body = b"\n".join(jsonl_lines(records(5))) + b"\n"
    cut = body[: body.rindex(b"\n", 0, len(body) - 1) + 10]  # the stream ends 10 bytes into line 5
    seen, problems = ledger(read_articles(["-"], stdin=io.BytesIO(cut)))
    assert set(seen) == {"a0000", "a0001", "a0002", "a0003"}
    assert list(problems) == [5]


# ------------------------------------------------------------------ btr tag end to end


def test_tag_accounts_for_every_id_of_a_damaged_archive(small_model, tmp_path):
    items = records(30)
    lines = jsonl_lines(items)
    for k in (3, 11, 17):
        lines[k] = lines[k][:20] + b"\xff\xfe\x00" + lines[k][20:]
    path = tmp_path / "archive.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    summary = tag([path], model=small_model, out=out, rejects=rejects, quiet=True, batch_size=7)
    tagged = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
    rejected = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert (summary.tagged, summary.rejected) == (27, 3)
    assert sorted(tagged + [items[r["line"] - 1]["id"] for r in rejected]) == [r["id"] for r in items]


def test_an_output_or_rejects_path_equal_to_an_input_is_a_usage_error(small_model, tmp_path):
    path = tmp_path / "same.jsonl"
    path.write_bytes(b"\n".join(jsonl_lines(records(4))) + b"\n")
    before = path.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(path)
    for out, rejects in [
        (path, None),
        (link, None),
        (tmp_path / "o.jsonl", path),
        (tmp_path / "x", tmp_path / "x"),
    ]:
        with pytest.raises(UsageError):
            tag([tmp_path / "same.jsonl"], model=small_model, out=out, rejects=rejects, quiet=True)
        assert path.read_bytes() == before
    result = subprocess.run(
        [sys.executable, "-m", "btr.cli", "tag", str(path), "-o", str(path), "--model", str(small_model)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "also an input" in result.stderr
    assert path.read_bytes() == before


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_run_stopped_by_a_signal_leaves_whole_records_and_resume_completes_it(
    small_model, tmp_path, signum
):
    items = [{"id": f"n{i:05d}", "text": TEXTS[i % len(TEXTS)] * 40} for i in range(12000)]
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\n".join(jsonl_lines(items)) + b"\n")
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "btr.cli", "tag", str(path), "-o", str(out), "--model", str(small_model)]
    proc = subprocess.Popen([*command, "--batch-size", "64", "--quiet"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while (
        (not out.exists() or out.stat().st_size == 0) and proc.poll() is None and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    assert all(line.endswith("\n") for line in lines)
    first = [json.loads(line)["id"] for line in lines]  # every line a whole record
    if proc.returncode != 0:  # stopped before the end (the usual case)
        assert proc.returncode == 128 + signum, stderr
        assert "--resume" in stderr
        assert len(first) < len(items)
    done = subprocess.run([*command, "--resume", "--quiet"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == [r["id"] for r in items]


# ------------------------------------------------------------------ corpus validate and merge


def test_validate_names_a_damaged_line_and_checks_every_other(tmp_path, corpus_path):
    from btr.corpus import validate

    lines = corpus_path.read_bytes().splitlines()[:40]
    lines[5] = lines[5][:100] + b"\xff\x00" + lines[5][100:]
    lines[20] = lines[20][:-30]
    path = tmp_path / "cases.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    problems = validate(path)
    assert sorted({p.line for p in problems}) == [6, 21]


def test_merge_killed_mid_write_leaves_the_corpus_as_it_was(tmp_path, corpus_path):
    into = tmp_path / "cases.jsonl"
    lines = corpus_path.read_text(encoding="utf-8").splitlines()
    into.write_text("\n".join(lines[:-20]) + "\n", encoding="utf-8")
    staged = tmp_path / "staged.jsonl"
    staged.write_text("\n".join(lines[-20:]) + "\n", encoding="utf-8")
    before = into.read_bytes()
    script = (
        "import os, signal, btr.corpus as c\n"
        "dump, n = c._dump_line, [0]\n"
        "def killing(case):\n"
        "    n[0] += 1\n"
        "    if n[0] == 100: os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return dump(case)\n"
        "c._dump_line = killing\n"
        f"c.merge([{str(staged)!r}], into={str(into)!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == -signal.SIGKILL
    assert into.read_bytes() == before
    # the same merge, not killed, adds the 20 cases
    from btr.corpus import load_cases, merge

    merge([staged], into=into)
    assert len(load_cases(into)) == len(lines)
    assert os.path.getsize(into) > len(before)


def test_tag_encoding_option_decodes_a_declared_legacy_csv(small_model, tmp_path):
    from click.testing import CliRunner

    from btr.cli import main

    text = "國務院同意張三引咎辭去市長職務。另一句話。"
    path = tmp_path / "big5.csv"
    path.write_bytes(f"id,text\nz1,{text}\n".encode("big5"))
    out = tmp_path / "out.jsonl"
    args = ["tag", str(path), "--model", str(small_model), "-o", str(out), "--explain", "--quiet"]
    result = CliRunner().invoke(main, [*args, "--encoding", "big5"])
    assert result.exit_code == 0, result.output
    [record] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert record["id"] == "z1" and record["explanation"] in text
