"""The rendered-bytes cache stays within its byte budget, evicting the least used."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pressfeed.web.caching import RenderedCache, rendered


def page(size: int):
    return rendered(b"x" * size, datetime(2026, 1, 1, tzinfo=UTC))


def test_the_cache_evicts_the_least_recently_used_beyond_its_budget():
    cache = RenderedCache(max_bytes=1000)
    renders = []

    def render(size: int):
        renders.append(size)
        return page(size)

    for n in range(10):
        cache.get(f"page-{n}", 1, lambda n=n: render(300 + n))
    assert cache.size_in_bytes <= 1000
    cache.get("page-9", 1, lambda: render(0))
    assert renders[-1] == 309  # page-9 was still cached
    cache.get("page-0", 1, lambda: render(300))
    assert renders[-1] == 300  # page-0 had been evicted and was rendered again


def test_a_new_views_position_renders_again():
    cache = RenderedCache(max_bytes=1_000_000)
    first = cache.get("feed", 1, lambda: page(10))
    assert cache.get("feed", 1, lambda: page(20)) is first
    assert len(cache.get("feed", 2, lambda: page(20)).body) == 20
    assert cache.size_in_bytes == 20


def test_concurrent_misses_of_one_key_render_it_once():
    """Single-flight: eight readers of a cold feed wait for one rendering."""
    import threading
    import time

    cache = RenderedCache(max_bytes=1_000_000)
    renders = []
    barrier = threading.Barrier(8)
    results = []

    def render():
        renders.append(1)
        time.sleep(0.3)  # a costly rendering
        return page(100)

    def reader():
        barrier.wait()
        results.append(cache.get("all.atom", 7, render))

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(renders) == 1
    assert len(results) == 8 and all(r is results[0] for r in results)


def test_a_failed_rendering_lets_the_waiters_try_again():
    import threading
    import time

    cache = RenderedCache(max_bytes=1_000_000)
    calls = []
    started = threading.Event()

    def failing():
        calls.append("fail")
        started.set()
        time.sleep(0.2)
        raise RuntimeError("views gone")

    def working():
        calls.append("ok")
        return page(10)

    errors = []

    def first():
        try:
            cache.get("feed", 1, failing)
        except RuntimeError as error:
            errors.append(error)

    leader = threading.Thread(target=first)
    leader.start()
    started.wait()
    assert len(cache.get("feed", 1, working).body) == 10
    leader.join()
    assert calls == ["fail", "ok"] and len(errors) == 1


def test_shared_caches_revalidate_public_pages_and_feeds_within_a_second(client):
    """Browsers and readers keep a copy a while; a proxy or CDN only until the end
    of the current second (nginx reads X-Accel-Expires, others s-maxage)."""
    for path in ("/", "/messages", "/feeds/all.atom", "/feeds/all.json"):
        before = int(time.time())
        response = client.get(path)
        after = int(time.time())
        directives = response.headers["Cache-Control"].split(", ")
        assert "public" in directives and "s-maxage=1" in directives, path
        assert "stale-if-error=86400" in directives, path
        assert not any(d.startswith("stale-while-revalidate") for d in directives)
        second = int(response.headers["X-Accel-Expires"].removeprefix("@"))
        assert before <= second <= after, path


def test_pages_for_people_signed_in_or_with_tokens_carry_no_shared_expiry(client):
    for path in ("/desk/login", "/api/statements", "/healthz"):
        response = client.get(path)
        assert "X-Accel-Expires" not in response.headers, path
        assert "public" not in response.headers.get("Cache-Control", ""), path
