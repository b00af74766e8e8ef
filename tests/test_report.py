import datetime as dt
import shutil

import pytest

from btr.gaps import assess
from btr.report import kaplan_meier_data, render_report, safe_url, unequal_standards, write_report
from btr.schema import Case, Source
from tests.conftest import make_record

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AS_OF = dt.date(2025, 12, 31)


@pytest.fixture
def hostile_case(good_record):
    """A flagged case whose text and sources try to inject markup and a javascript: link."""
    record = make_record(
        good_record,
        id="cn-2009-hostile",
        **{
            "official.name_en": "<b>Bold</b> Name",
            "text.en": 'Summary <script>alert("x")</script> end',
            "text.zh": "摘要<img src=x onerror=alert(1)>",
            "followup.posts.0.disclosed": "no",
        },
    )
    case = Case.model_validate(record)
    # Validation refuses non-http URLs; the report must still be safe if one slips through.
    evil = Source.model_construct(
        url="javascript:alert(1)", publisher="Evil <i>Pub</i>", title=None, date=None
    )
    return case.model_copy(update={"sources": [*case.sources, evil]})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a", "https://example.org/a"),
        ("http://news.sohu.com/x.shtml", "http://news.sohu.com/x.shtml"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("data:text/html,<script>", None),
        ("//example.org", None),
        ("", None),
    ],
)
def test_only_http_links(url, expected):
    assert safe_url(url) == expected


def test_untrusted_text_is_escaped_and_bad_links_not_rendered(hostile_case):
    html = render_report([hostile_case], assess([hostile_case]), as_of=AS_OF)
    assert "cn-2009-hostile" in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;b&gt;Bold&lt;/b&gt;" in html
    assert 'href="javascript:' not in html.lower()
    assert "Evil &lt;i&gt;Pub&lt;/i&gt; (javascript:alert(1))" in html
    assert 'href="http://finance.ifeng.com/' in html


def test_kaplan_meier_censors_those_not_returned(good_record):
    returned = Case.model_validate(good_record)  # left 2008-09-22, back 2009-12
    stayed_out = Case.model_validate(
        make_record(
            good_record,
            id="cn-x-2",
            followup={"status": "not_reappointed", "posts": [], "legal_followup": "no"},
        )
    )
    unknown = Case.model_validate(
        make_record(good_record, id="cn-x-3", followup={"status": "unknown", "posts": []})
    )
    data = kaplan_meier_data([returned, stayed_out, unknown], as_of=AS_OF)
    china = data["groups"]["China"]
    assert china["e"] == [1, 0]
    assert 420 < china["t"][0] < 480  # 2008-09-22 to mid-December 2009
    assert china["t"][1] == (AS_OF - dt.date(2008, 9, 22)).days
    assert data["left_out"] == {"follow-up unknown": 1}


def test_unequal_standards_table(good_record):
    cases = [
        Case.model_validate(make_record(good_record, id=f"c-{i}", category=cat, **{"event.deaths": deaths}))
        for i, (cat, deaths) in enumerate([("btr", 10), ("btr", 30), ("dismissal", 200)])
    ]
    rows = {(r["trigger"], r["outcome"]): r for r in unequal_standards(cases)}
    assert rows[("food_drug_safety", "btr")]["median_deaths"] == 20
    assert rows[("food_drug_safety", "dismissal")]["n"] == 1


@pytest.mark.browser
@pytest.mark.slow
def test_report_as_a_reader_sees_it_in_chromium(tmp_path, corpus_path, hostile_case):
    from playwright.sync_api import sync_playwright

    from btr.corpus import load_cases

    cases = [*load_cases(corpus_path), hostile_case]
    assessed = assess(cases)
    flagged_ids = sorted({row["id"] for row in assessed if row["flags"]})
    assert "cn-2009-hostile" in flagged_ids
    path = write_report(cases, assessed, tmp_path / "report.html", as_of=AS_OF)
    dialogs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        widths = page.eval_on_selector_all(
            "figure img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"
        )
        shown_ids = page.eval_on_selector_all(
            "#flagged-table tbody tr td:first-child", "tds => tds.map(t => t.innerText)"
        )
        rule_rows = page.eval_on_selector_all("#rules-table tbody tr", "rows => rows.length")
        page.click("#flagged-table tbody tr:has-text('cn-2009-hostile') details summary")
        summary = page.inner_text("#flagged-table tbody tr:has-text('cn-2009-hostile') details")
        links = page.eval_on_selector_all("a", "as => as.map(a => a.getAttribute('href'))")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert len(widths) >= 6 and all(w > 100 for w in widths), widths
    assert sorted(set(shown_ids)) == flagged_ids
    assert rule_rows >= 10
    assert '<script>alert("x")</script>' in summary  # shown as text, not run
    assert dialogs == []
    assert links and all(href.startswith(("http://", "https://")) for href in links)
