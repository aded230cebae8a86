"""Rendering cost is bounded: costly Markdown is refused when written and
shown as text when an older store holds it; rendered HTML is cached within a
byte budget."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from pressfeed import rendering
from pressfeed.rendering import (
    MARKDOWN_CACHE_BYTES,
    RENDER_BUDGET_MS,
    check_render_cost,
    markdown_to_html,
)

# The reproductions of the robustness issue: seconds each, unbounded.
PATHOLOGICAL = {
    "images": "![" * 99000,
    "links": "[a](b)" * 33000,
    "brackets": "[" * 100000,
}


@pytest.fixture(autouse=True)
def cold_cache():
    rendering.markdown_cache.clear()
    yield
    rendering.markdown_cache.clear()


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_a_body_over_the_budget_is_refused_quickly_naming_the_limit(name):
    started = time.perf_counter()
    with pytest.raises(ValueError, match=f"more than {RENDER_BUDGET_MS} ms"):
        check_render_cost(PATHOLOGICAL[name])
    assert time.perf_counter() - started < 1.0  # the attempt stops at the budget


def test_long_ordinary_text_is_accepted():
    paragraph = (
        "The minister said that the talks, which began on Monday in Geneva, "
        "would continue until an agreement is reached (including **trade**).\n\n"
    )
    body = (paragraph * 300)[:40_000]  # about 12 ms on a 2-core Xeon
    assert check_render_cost(body) == body
    assert "<strong>trade</strong>" in markdown_to_html(body)


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_reading_a_stored_costly_body_is_bounded_and_shows_its_text(name):
    """A store written before the budget can hold such bodies: a reader gets
    them as escaped text, within the read budget, not after seconds."""
    started = time.perf_counter()
    html = markdown_to_html(PATHOLOGICAL[name])
    assert time.perf_counter() - started < 1.5
    assert html.startswith("<p>") and "<a" not in html and "<img" not in html
    assert markdown_to_html(PATHOLOGICAL[name]) == html  # cached


def test_the_markdown_cache_is_bounded_by_bytes():
    """Before: lru_cache(maxsize=512) held 512 bodies whatever their size (120
    drafts of large bodies grew a server from 172 to 458 MiB)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(100):  # 100 bodies of 200,000 characters: 40 MB of text and HTML
            markdown_to_html(f"Statement {n}. " + "Lorem ipsum dolor sit amet. " * 7000)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < MARKDOWN_CACHE_BYTES * 1.2
