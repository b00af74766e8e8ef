"""The shared file and record helpers (btr.files)."""

import json
import os
import stat

import pytest
from pydantic import BaseModel, ValidationError

from btr.files import (
    atomic_writer,
    get_path,
    parse_json_line,
    set_path,
    validation_message,
    validation_messages,
    write_json_atomic,
    write_jsonl_atomic,
)


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "cases.jsonl"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_writer(target) as handle:
        handle.write("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.jsonl"]


def test_an_atomic_write_gives_ordinary_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = write_json_atomic(tmp_path / "sub" / "state.json", {"b": 1, "a": [1]}, sort_keys=True)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text(encoding="utf-8").startswith('{\n "a"')


def test_jsonl_writes_dicts_and_models(tmp_path):
    class Row(BaseModel):
        id: str
        note: str | None = None

    path = write_jsonl_atomic(tmp_path / "rows.jsonl", [{"id": "a", "t": "引咎"}, Row(id="b")])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [{"id": "a", "t": "引咎"}, {"id": "b", "note": None}]
    assert "引咎" in lines[0]  # not escaped


@pytest.mark.parametrize(
    ("raw", "record", "why"),
    [
        (b'\xef\xbb\xbf{"id": "a"}\r\n', {"id": "a"}, None),
        (b'{"id": "caf\xe9"}', None, "not UTF-8: byte 0xe9 at column 12 (JSON Lines is UTF-8)"),
        ('{"id": ', None, "malformed JSON: Expecting value at column 8"),
        ("3", None, "expected a JSON object, got int"),
    ],
)
def test_parse_json_line(raw, record, why):
    assert parse_json_line(raw) == (record, why)


def test_dotted_and_tuple_paths():
    record = {"followup": {"posts": [{"date": "2019"}]}}
    assert (
        get_path(record, "followup.posts.0.date")
        == get_path(record, ("followup", "posts", 0, "date"))
        == "2019"
    )
    assert get_path(record, "followup.posts.3.date") is None
    assert get_path(record, "followup.status.x") is None
    assert set_path(record, "followup.posts.0.date", "2020") == "2019"
    assert record["followup"]["posts"][0]["date"] == "2020"
    with pytest.raises(KeyError):
        set_path(record, "procedure.announced", "2020")
    assert set_path(record, ("procedure", "announced"), "2020-01", create=True) is None
    set_path(record, ("followup", "posts", 2, "post"), "mayor", create=True)
    assert record["procedure"] == {"announced": "2020-01"}
    assert record["followup"]["posts"][1:] == [{}, {"post": "mayor"}]


def test_validation_messages_name_the_field_in_plain_words():
    class Item(BaseModel, extra="forbid"):
        level: int

    with pytest.raises(ValidationError) as info:
        Item.model_validate({"level": "high", "colour": 1})
    pairs = validation_messages(info.value)
    assert pairs[1] == ("colour", "unknown field (not in the schema)")
    assert pairs[0][0] == "level"
    assert validation_message(info.value).startswith(
        "level: "
    ) and "; colour: unknown field" in validation_message(info.value)
    assert validation_message(ValueError("plain")) == "plain"
