"""The cost of finding a free slug: creating the 1,000th statement with one
Cyrillic title against creating the first, and against creates whose Cyrillic
titles are all different (the same-run baseline: their slug is free at the
first look), whose thousandth is also compared with their first. Every slug
must be distinct and readable ASCII. Each on a fresh SQLite file. Prints one
JSON document.

    .venv/bin/python -m benchmarks.slugs [--creates 1000] [--window 50]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from collections.abc import Callable

from pressfeed.application import NewStatement, PressOffice
from pressfeed.config import Settings

TITLE = "Комментарий посольства"
SUBJECTS = ("визового режима", "выставки", "переговоров", "выборов", "санкций")
DAYS = ("понедельник", "вторник", "среду", "четверг", "пятницу")
READABLE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def cyrillic_title(i: int) -> str:
    """A different Cyrillic title for each i, as a press office writes them."""
    subject, day = SUBJECTS[i % 5], DAYS[i // 5 % 5]
    return f"{TITLE} относительно {subject} в {day}, № {i}"


def create_times(creates: int, title_of: Callable[[int], str]) -> list[float]:
    """Milliseconds of each create, in order, on a fresh SQLite store."""
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings.from_env({"PRESSFEED_INSTANCE_DIR": directory})
        app = PressOffice(env=settings.eventsourcing_env())
        try:
            times, slugs = [], set()
            for i in range(creates):
                new = NewStatement(title=title_of(i), body="Text.", kind="news")
                started = time.perf_counter()
                slugs.add(app.create_statement(new, actor="bench").statement.slug)
                times.append((time.perf_counter() - started) * 1000)
        finally:
            app.close()
    if len(slugs) != creates:
        raise SystemExit("two creates got the same slug")
    unreadable = [slug for slug in slugs if not READABLE.fullmatch(slug)]
    if unreadable or not all(slug.startswith("kommentarii") for slug in slugs):
        raise SystemExit(f"slugs that are not transliterations: {unreadable[:5]}")
    return times


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--window", type=int, default=50)
    args = parser.parse_args()
    window = min(args.window, args.creates // 2)
    same = create_times(args.creates, lambda _: TITLE)
    distinct = create_times(args.creates, cyrillic_title)
    first, last = same[1 : window + 1], same[-window:]  # the very first warms up
    baseline = distinct[-window:]
    distinct_first = distinct[1 : window + 1]
    result = {
        "figures": {
            "creates": args.creates,
            "window": window,
            "same_title_first_ms": summary(first),
            "same_title_last_ms": summary(last),
            "distinct_titles_first_ms": summary(distinct_first),
            "distinct_titles_last_ms": summary(baseline),
        },
        "ratios": {
            "same_title_last_vs_first": round(
                statistics.median(last) / statistics.median(first), 3
            ),
            "same_title_last_vs_distinct_titles_last": round(
                statistics.median(last) / statistics.median(baseline), 3
            ),
            "distinct_titles_last_vs_first": round(
                statistics.median(baseline) / statistics.median(distinct_first), 3
            ),
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
