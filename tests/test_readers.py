"""btr.readers: every input kind from real files in a tmp dir, encodings, and bad records."""

from __future__ import annotations

import codecs
import gzip
import io
import itertools
import json
from pathlib import Path

import pytest

from btr.errors import InputError, Problem
from btr.readers import Article, detect_encoding, expand_inputs, read_articles

ZH = "2008年9月8日，山西省襄汾县新塔矿业公司尾矿库发生溃坝事故，造成277人死亡。9月14日，国务院同意孟学农辞去山西省省长职务。"
ZH_TRAD = "2003年4月20日，衛生部部長張文康因防治非典型肺炎不力被免去職務。北京市長孟學農引咎辭職。"
EN = "The minister resigned on Tuesday, saying she took full responsibility for the failures of the flood response."

HTML = """<!DOCTYPE html>
<html><head><meta charset="{charset}"><title>省长引咎辞职</title></head>
<body><nav><a href="/">首页</a> <a href="/news">新闻</a></nav>
<article><h1>省长引咎辞职</h1><p>{body}</p><p>调查组认定这是一起重大责任事故，有关责任人将被依法追究。</p></article>
<footer>版权所有 示例新闻网</footer></body></html>
"""


def write_jsonl(path: Path, records: list, encoding: str = "utf-8", bom: bool = False) -> Path:
    text = "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode(encoding))
    return path


def split(items) -> tuple[list[Article], list[Problem]]:
    items = list(items)
    return [i for i in items if isinstance(i, Article)], [i for i in items if isinstance(i, Problem)]


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [
        (ZH, "utf-8", "utf-8"),
        (ZH, "gbk", "gb18030"),
        (ZH, "gb18030", "gb18030"),
        (ZH_TRAD, "big5", "big5hkscs"),
        (EN, "ascii", "utf-8"),
    ],
    ids=["utf-8", "gbk", "gb18030", "big5", "ascii"],
)
def test_detect_encoding(text, encoding, expected):
    data = text.encode(encoding)
    assert detect_encoding(data, complete=True) == expected
    assert data.decode(expected) == text


def test_detect_encoding_bom_and_binary():
    assert detect_encoding(codecs.BOM_UTF8 + ZH.encode()) == "utf-8-sig"
    with pytest.raises(ValueError, match="binary"):
        detect_encoding(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ValueError, match="UTF-16"):
        detect_encoding(codecs.BOM_UTF16_LE + "辞职".encode("utf-16-le"))


def test_detect_encoding_tolerates_a_character_cut_by_the_sample():
    data = ZH.encode()
    assert detect_encoding(data[:-1]) == "utf-8"


@pytest.mark.parametrize(("encoding", "bom"), [("utf-8", False), ("utf-8", True)])
def test_jsonl_encodings_keep_the_text(tmp_path, encoding, bom):
    path = write_jsonl(
        tmp_path / "news.jsonl", [{"id": "a", "text": ZH}, {"id": "b", "text": EN}], encoding, bom
    )
    articles, problems = split(read_articles([path]))
    assert problems == []
    assert [(a.id, a.text, a.line) for a in articles] == [("a", ZH, 1), ("b", EN, 2)]


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "big5"])
def test_jsonl_is_utf8_so_a_legacy_line_is_rejected_alone(tmp_path, encoding):
    # JSON Lines is UTF-8 by definition: a legacy-encoded line costs that line, never its neighbours.
    path = tmp_path / "mixed.jsonl"
    good = json.dumps({"id": "u", "text": ZH_TRAD}, ensure_ascii=False).encode("utf-8")
    legacy = json.dumps({"id": "l", "text": ZH_TRAD}, ensure_ascii=False).encode(encoding)
    path.write_bytes(good + b"\n" + legacy + b"\n" + good.replace(b'"u"', b'"v"') + b"\n")
    articles, problems = split(read_articles([path]))
    assert [(a.id, a.text) for a in articles] == [("u", ZH_TRAD), ("v", ZH_TRAD)]
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [(2, "not UTF-8")]


def test_csv_legacy_encoding_is_detected_from_its_non_utf8_lines(tmp_path):
    path = tmp_path / "tw.csv"
    rows = [b"id,text\n", f"b,{ZH_TRAD}\n".encode("big5"), f"u,{ZH}\n".encode()]
    path.write_bytes(b"".join(rows))
    articles, problems = split(read_articles([path]))
    assert problems == []
    assert [(a.id, a.text) for a in articles] == [("b", ZH_TRAD), ("u", ZH)]


def test_jsonl_bad_records_are_problems_with_line_and_reason(tmp_path):
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            {"id": "ok1", "text": ZH},
            '{"id": "broken", "text": ',
            "",
            {"id": "no-text"},
            {"id": "empty", "text": "   "},
            {"id": "number", "text": 42},
            "[1, 2]",
            {"text": EN},
        ],
    )
    articles, problems = split(read_articles([path]))
    assert [a.id for a in articles] == ["ok1", f"{path}:8"]
    got = [(p.line, p.field, p.message.split(":")[0]) for p in problems]
    assert got == [
        (2, "", "malformed JSON"),
        (4, "text", "missing text field"),
        (5, "text", "empty text"),
        (6, "text", "a int, not text"),
        (7, "", "expected a JSON object, got list"),
    ]
    assert all(p.file == str(path) for p in problems)


def test_jsonl_undecodable_line_is_rejected_and_the_rest_kept(tmp_path):
    good = json.dumps({"id": "a", "text": ZH}, ensure_ascii=False).encode()
    bad = b'{"id": "b", "text": "\xff\xfe broken"}'
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(good + b"\n" + bad + b"\n" + good.replace(b'"a"', b'"c"') + b"\n")
    articles, problems = split(read_articles([path]))
    assert [a.id for a in articles] == ["a", "c"]
    (problem,) = problems
    assert problem.line == 2
    assert problem.message.startswith("not UTF-8: byte 0xff")
    assert problem.message.endswith("(JSON Lines is UTF-8)")


def test_custom_fields_and_gzip(tmp_path):
    path = tmp_path / "news.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        stream.write(json.dumps({"doc": "x1", "body": EN}) + "\n")
    (article,) = read_articles([path], text_field="body", id_field="doc")
    assert (article.id, article.text) == ("x1", EN)


def test_csv_rows_multiline_fields_and_bad_rows(tmp_path):
    path = tmp_path / "news.csv"
    content = f'id,title,text\na,t1,"{ZH}"\nb,t2,"{EN}\nsecond line"\nc,t3\nd,t4,\ne,t5,"{EN}"\n'
    path.write_bytes(codecs.BOM_UTF8 + content.encode())
    articles, problems = split(read_articles([path]))
    assert [(a.id, a.line) for a in articles] == [("a", 2), ("b", 3), ("e", 7)]
    assert articles[1].text == f"{EN}\nsecond line"
    assert [(p.line, p.field, p.message) for p in problems] == [
        (5, "", "2 fields where the header has 3"),
        (6, "text", "empty text"),
    ]


def test_csv_gbk_with_an_undecodable_row(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(
        b"id,text\n" + f"a,{ZH}\n".encode("gbk") + b"b,\xff\xff\xff\n" + f"c,{ZH}\n".encode("gbk")
    )
    articles, problems = split(read_articles([path]))
    assert [(a.id, a.text) for a in articles] == [("a", ZH), ("c", ZH)]
    assert [(p.line, "undecodable" in p.message) for p in problems] == [(3, True)]


def test_csv_without_the_text_column_rejects_each_row_with_its_id(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("id,body\na,x\nb,y\n", encoding="utf-8")
    problems = list(read_articles([path]))
    assert all(isinstance(p, Problem) for p in problems)
    assert [(p.line, p.field, p.id) for p in problems] == [(2, "text", "a"), (3, "text", "b")]
    assert "no column 'text'" in problems[0].message


@pytest.mark.parametrize("encoding", ["utf-8", "gbk", "big5"])
def test_text_files_in_legacy_encodings(tmp_path, encoding):
    text = ZH_TRAD if encoding == "big5" else ZH
    path = tmp_path / f"article-{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    (article,) = read_articles([path])
    assert (article.id, article.text, article.file) == (path.as_posix(), text, path.as_posix())


@pytest.mark.parametrize(("charset", "encoding"), [("utf-8", "utf-8"), ("gbk", "gbk")])
def test_html_is_reduced_to_the_article_text(tmp_path, charset, encoding):
    path = tmp_path / "page.html"
    path.write_bytes(HTML.format(charset=charset, body=ZH).encode(encoding))
    (article,) = read_articles([path])
    assert isinstance(article, Article)
    assert ZH in article.text
    assert "版权所有" not in article.text
    assert "<p>" not in article.text


def test_html_without_article_text_is_a_problem(tmp_path):
    path = tmp_path / "empty.html"
    path.write_text("<html><head><title>x</title></head><body></body></html>", encoding="utf-8")
    (problem,) = read_articles([path])
    assert isinstance(problem, Problem)
    assert problem.message == "no article text found in the HTML"


def test_binary_files_are_problems(tmp_path):
    png = tmp_path / "photo.txt"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    jsonl = tmp_path / "data.jsonl"
    jsonl.write_bytes(b"\x00\x01\x02\x03" * 100)
    problems = list(read_articles([png, jsonl]))
    # a JSONL file is read line by line: its one (binary) line is rejected, with its line number
    assert [(p.file, p.line) for p in problems] == [(str(png), None), (str(jsonl), 1)]
    assert "binary" in problems[0].message
    assert "malformed JSON" in problems[1].message


def test_directory_and_glob(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text(EN, encoding="utf-8")
    (tmp_path / "a" / "two.html").write_text(HTML.format(charset="utf-8", body=ZH), encoding="utf-8")
    (tmp_path / "a" / "notes.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "a" / ".hidden.txt").write_text(EN, encoding="utf-8")
    (tmp_path / "b.txt").write_text(ZH, encoding="utf-8")
    articles, problems = split(read_articles([tmp_path / "a"]))
    assert [Path(a.id).name for a in articles] == ["one.txt", "two.html"]
    assert [Path(p.file).name for p in problems] == ["notes.pdf"]
    assert "unsupported file type .pdf" in problems[0].message
    assert expand_inputs([f"{tmp_path}/**/*.txt"]) == [
        (tmp_path / "a" / "one.txt").as_posix(),
        str(tmp_path / "b.txt"),
    ]


@pytest.mark.parametrize("missing", ["nope.jsonl", "nothing-*.jsonl"])
def test_missing_inputs_raise_before_reading(tmp_path, missing):
    with pytest.raises(InputError, match=r"no such file|no file matches"):
        list(read_articles([tmp_path / missing]))


def test_stdin_jsonl_and_plain_text():
    records = b'{"id": "s1", "text": "mayor resigns"}\n{"id": "s2", "text": "\xe9\x83\xa8\xe9\x95\xbf\xe8\xbe\x9e\xe8\x81\x8c"}\n'
    articles = list(read_articles(["-"], stdin=io.BytesIO(records)))
    assert [(a.id, a.text, a.file) for a in articles] == [
        ("s1", "mayor resigns", "<stdin>"),
        ("s2", "部长辞职", "<stdin>"),
    ]
    (article,) = read_articles(["-"], stdin=io.BytesIO(ZH.encode("gbk")))
    assert (article.id, article.text) == ("-", ZH)


class _EndlessStream(io.RawIOBase):
    """A stdin that never ends: reading must stay lazy."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        line = b'{"id": "x", "text": "minister resigns"}\n'
        chunk = (line * (len(buffer) // len(line) + 1))[: len(buffer)]
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_reading_is_streamed():
    stream = io.BufferedReader(_EndlessStream())
    first = list(itertools.islice(read_articles(["-"], stdin=stream), 3))
    assert [a.text for a in first] == ["minister resigns"] * 3
