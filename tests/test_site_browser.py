"""A reader of the demo press office in a real headless Chromium, at a desktop
width and at a phone's: the featured interview, the search box, the filters,
questions and answers, the navigation on a small screen and the printout.
Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import pytest

from tests.helpers import Server, run_cli, wait_for_views
from tests.test_browser import ARTIFACTS, browser  # noqa: F401  # the fixture

FEATURED = "Interview of Foreign Minister Aldo Veranis with Le Courrier diplomatique"
DESKTOP, PHONE = 1280, 390


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    from tests.conftest import make_settings

    settings = make_settings(tmp_path_factory.mktemp("site-browser"))
    run_cli(settings, "demo")
    server = Server(settings)
    wait_for_views(server.url)
    yield server.url
    server.stop()


def style(locator, prop: str) -> str:
    return locator.evaluate(f"e => getComputedStyle(e).getPropertyValue('{prop}')")


def distinct_lines(page, selector: str) -> int:
    """How many lines the children of an element take (by their tops)."""
    tops = page.eval_on_selector(
        selector,
        "e => Array.from(e.children).map(c => Math.round(c.getBoundingClientRect().top))",
    )
    lines: list[int] = []
    for top in sorted(tops):
        if not lines or top - lines[-1] > 8:
            lines.append(top)
    return len(lines)


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_a_reader_searches_filters_and_reads_the_featured_interview(
    browser,  # noqa: F811
    demo_url,
    width,
):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(demo_url + "/")
    assert page.locator("h1.front-heading").inner_text().lower() == (
        "press releases and news"
    )
    assert page.locator(".newest h2").inner_text() == FEATURED
    assert page.locator(".latest article.teaser").count() >= 5
    height = page.evaluate("document.documentElement.scrollHeight")
    if width == DESKTOP:
        assert height < 2500, height
    assert distinct_lines(page, ".masthead") <= 2
    assert distinct_lines(page, ".site-nav") <= 2
    page.screenshot(path=str(ARTIFACTS / f"site-front-{width}.png"), full_page=True)

    page.locator("header .search-box input[name=q]").fill("seasonal workers")
    page.locator("header .search-box button").click()
    page.wait_for_url("**/search?q=*")
    titles = page.locator(".results h2").all_inner_texts()
    assert any("new rules for seasonal workers" in t for t in titles), titles
    assert page.locator(".results .snippet mark").count() >= 1
    page.screenshot(path=str(ARTIFACTS / f"site-search-{width}.png"), full_page=True)

    page.goto(demo_url + "/messages")
    page.locator(".filter-kinds a.kind", has_text="interview").click()
    page.wait_for_url("**/messages?kind=interview")
    kinds = page.locator(".messages li a.kind").all_inner_texts()
    assert kinds and {k.lower() for k in kinds} == {"interview"}
    page.screenshot(
        path=str(ARTIFACTS / f"site-interviews-{width}.png"), full_page=True
    )

    page.goto(demo_url + "/")
    page.locator(".newest h2 a").click()
    page.wait_for_url("**/statements/**")
    question = page.locator(".body p.question").first
    answer = page.locator(".body p.answer").first
    assert question.locator("strong").inner_text() == "Question (in English):"
    assert answer.locator("strong").inner_text() == "Foreign Minister (in English):"
    assert (style(question, "font-weight"), style(question, "color")) != (
        style(answer, "font-weight"),
        style(answer, "color"),
    )
    assert style(question, "border-left-style") == "solid"
    assert page.locator(".speaker").first.inner_text() == "Foreign Minister"
    heading = page.locator("article.statement h1").bounding_box()
    assert heading is not None and heading["height"] < 200
    page.screenshot(path=str(ARTIFACTS / f"site-interview-{width}.png"), full_page=True)

    page.emulate_media(media="print")
    assert not page.locator("header nav").is_visible()
    assert page.locator(".print-url").is_visible()
    assert "/statements/" in page.locator(".print-url").inner_text()
    assert page.locator(".meta time").is_visible()
    page.close()


WIDE = {
    "title": "Statement on the " + "Valdorian" * 14 + " question",
    "speaker": "Ambassador" * 9,
    "kind": "speech",
    "body": (
        "See https://example.org/" + "a" * 150 + " and the word "
        + "Donaudampfschifffahrt" * 8 + ".\n\n"
        + "| " + " | ".join(f"column {i}" for i in range(14)) + " |\n"
        + "|" + "---|" * 14 + "\n"
        + "| " + " | ".join(f"value {i}" for i in range(14)) + " |\n\n"
        + "```\n" + "x = 1; " * 40 + "\n```\n"
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def wide_url(tmp_path_factory):
    import json

    from tests.conftest import make_settings

    directory = tmp_path_factory.mktemp("site-wide")
    settings = make_settings(directory)
    lines = directory / "wide.jsonl"
    lines.write_text(json.dumps(WIDE) + "\n")
    run_cli(settings, "import", str(lines))
    server = Server(settings)
    wait_for_views(server.url)
    yield server.url
    server.stop()


def test_long_words_tables_and_code_never_widen_the_page_on_a_phone(
    browser,  # noqa: F811
    wide_url,
):
    """Only the table and the code block scroll, inside the text's width."""
    page = browser.new_page(viewport={"width": PHONE, "height": 900})
    for path in ("/", "/messages", "/search?q=valdorian", "/statements/"):
        if path == "/statements/":
            page.goto(wide_url + "/messages")
            page.locator(".messages li a").first.click()
            page.wait_for_url("**/statements/**")
        else:
            page.goto(wide_url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE, (path, width)
    assert page.locator(".body table").count() == 1
    page.screenshot(path=str(ARTIFACTS / "site-wide-phone.png"), full_page=True)
    page.close()
