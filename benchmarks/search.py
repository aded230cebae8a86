"""Search latency at scale: /search's query (the projection's full-text index,
best match first, 20 a page, with snippets) over N public statements, on SQLite
(FTS5) and on PostgreSQL (tsvector + GIN), against the same run's baseline: a
page of the catalogue (all messages, newest first, 20 at an offset). Median
and p99 in milliseconds.

Also the all-messages pages as a reader gets them (the whole /messages
rendering, its filter panel's counts included, the rendered cache emptied
before each request): the deepest pages, and deep pages of one kind and year,
against the first page in the same run. Prints one JSON document.

    .venv/bin/python -m benchmarks.search [--statements 100000] [--samples 200]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from benchmarks.scale_out import POSTGRES_URL
from pressfeed.application import NewStatement
from pressfeed.assembly import Pressfeed
from pressfeed.config import Settings
from pressfeed.projections.catalogue import latest_public
from pressfeed.projections.runner import ProjectionWorker
from pressfeed.projections.search import parse_query, search
from pressfeed.web import create_app
from pressfeed.web.caching import RenderedCache
from pressfeed.web.context import RENDERED_CACHE

SEED = 17
WORDS = 5000  # the vocabulary: a few words are common, most are rare (Zipf)
KINDS = ("news", "news", "press-release")
START = datetime(2000, 1, 1, tzinfo=UTC)
DEEP_PAGES = 20  # the deepest pages read, each once


def vocabulary() -> list[str]:
    rng = random.Random(SEED)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [
        "".join(rng.choice(letters) for _ in range(rng.randint(4, 10)))
        for _ in range(WORDS)
    ]


def statements(count: int, words: list[str]) -> list[NewStatement]:
    """Bodies of about 150 words drawn with Zipf-like weights, dated a day apart."""
    rng = random.Random(SEED)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    made = []
    for i in range(count):
        body = " ".join(rng.choices(words, weights, k=150))
        made.append(
            NewStatement(
                title=" ".join(rng.choices(words, weights, k=6)).capitalize(),
                body=body,
                kind=KINDS[i % len(KINDS)],
                tags=rng.sample(words[:50], 2),
                published_at=START + timedelta(hours=i),
            )
        )
    return made


def queries(words: list[str]) -> list[str]:
    """Common, middling and rare words, two words, and a phrase."""
    return [
        words[0],
        words[20],
        words[400],
        words[3000],
        f"{words[1]} {words[60]}",
        f'"{words[0]} {words[1]}"',
        f"{words[5]} -{words[2]}",
    ]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def latency(samples: int, run: Callable[[int], Any]) -> dict[str, float]:
    """Milliseconds of run(i) for i in range(samples): median and p99."""
    run(0)  # warm the caches once
    times = []
    for i in range(samples):
        started = time.perf_counter()
        run(i)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "median": round(statistics.median(times), 3),
        "p99": round(percentile(times, 0.99), 3),
        "samples": samples,
    }


@contextmanager
def sqlite_settings() -> Iterator[Settings]:
    with tempfile.TemporaryDirectory() as directory:
        yield Settings.from_env({"PRESSFEED_INSTANCE_DIR": directory})


@contextmanager
def postgres_settings() -> Iterator[Settings]:
    schema = f"pf_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with tempfile.TemporaryDirectory() as directory:
            yield Settings.from_env(
                {
                    "PRESSFEED_INSTANCE_DIR": directory,
                    "PRESSFEED_DATABASE_URL": f"{POSTGRES_URL}?schema={schema}",
                }
            )
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def page_latency(client: Any, urls: list[str]) -> dict[str, float]:
    """Milliseconds of a GET of each URL, rendered afresh (the cache emptied)."""
    app = client.application

    def get(i: int) -> None:
        app.extensions[RENDERED_CACHE] = RenderedCache(16 * 1024 * 1024)
        response = client.get(urls[i % len(urls)])
        if response.status_code != 200:
            raise SystemExit(f"{urls[i % len(urls)]}: {response.status_code}")

    return latency(len(urls), get)


def message_pages(services: Pressfeed, count: int) -> dict[str, Any]:
    """The first page of /messages, its deepest pages, and deep pages of one
    kind in one year (the filters' counts and page links included)."""
    client = create_app(services=services).test_client()
    last = max(1, -(-count // 20))
    deep = [f"/messages?page={last - n}" for n in range(min(DEEP_PAGES, last))]
    middle = (START + timedelta(hours=count // 2)).year
    in_year = sum(
        1
        for i in range(count)
        if KINDS[i % len(KINDS)] == "news"
        and (START + timedelta(hours=i)).year == middle
    )
    last_filtered = max(1, -(-in_year // 20))
    filtered = [
        f"/messages?kind=news&year={middle}&page={last_filtered - n}"
        for n in range(min(DEEP_PAGES, last_filtered))
    ]
    return {
        "first_page_ms": page_latency(client, ["/messages"] * DEEP_PAGES),
        "deepest_pages_ms": page_latency(client, deep),
        "deep_kind_and_year_pages_ms": page_latency(client, filtered),
        "pages": last,
    }


def measure(settings: Settings, count: int, samples: int) -> dict[str, Any]:
    words = vocabulary()
    services = Pressfeed(settings)
    try:
        started = time.perf_counter()
        services.press_office.import_statements(statements(count, words), actor="bench")
        worker = ProjectionWorker(
            services.press_office, services.views, batch_size=1000
        )
        worker.catch_up()
        loaded = time.perf_counter() - started
        views = services.views
        parsed = [parse_query(q) for q in queries(words)]
        found = [search(views, q, limit=20).total for q in parsed]
        pages = max(1, count // 20)
        rng = random.Random(SEED)
        offsets = [rng.randrange(pages) * 20 for _ in range(samples + 1)]
        return {
            "statements": count,
            "load_and_index_seconds": round(loaded, 1),
            "matches_per_query": dict(zip(queries(words), found, strict=True)),
            "search_ms": latency(
                samples, lambda i: search(views, parsed[i % len(parsed)], limit=20)
            ),
            "catalogue_page_ms": latency(
                samples, lambda i: latest_public(views, limit=20, offset=offsets[i])
            ),
            "messages": message_pages(services, count),
        }
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    engines = {"sqlite": sqlite_settings, "postgresql": postgres_settings}
    for name in args.engines.split(","):
        with engines[name]() as settings:
            figures[name] = measure(settings, args.statements, args.samples)
    ratios = {
        f"{name}_search_median_vs_catalogue_page": round(
            f["search_ms"]["median"] / f["catalogue_page_ms"]["median"], 3
        )
        for name, f in figures.items()
    }
    for name, f in figures.items():
        pages = f["messages"]
        first = pages["first_page_ms"]["median"]
        ratios[f"{name}_deepest_page_vs_first_page"] = round(
            pages["deepest_pages_ms"]["median"] / first, 3
        )
        ratios[f"{name}_deep_kind_and_year_page_vs_first_page"] = round(
            pages["deep_kind_and_year_pages_ms"]["median"] / first, 3
        )
    print(json.dumps({"figures": figures, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
