"""The cost of heavy Markdown to readers (issue 15, point 2): a press office
with ten heavy statements, restarted, then three requests for all.atom, one for
all.rss and one for / at once, timed until the last answer; against the same
with ten ordinary statements, measured in the same run. Prints one JSON document.

Before the render budget, ten bodies of ``"![" * 99000`` made these five
requests take 121 to 124 s together. Now such a body is refused when written,
so the worst case a reader can meet is ten bodies just under the budget
("at_budget": links, the costliest markup per character, as long as the API
accepts). A store written before the budget may still hold the old
bodies ("legacy"): each is then read as text after READ_BUDGET_MS.

    .venv/bin/python -m benchmarks.render_cost [--runs 3] [--statements 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from tests.helpers import Server, create_token, wait_for_views

from pressfeed.application import NewStatement, PressOffice
from pressfeed.config import Settings
from pressfeed.rendering import READ_BUDGET_MS, _render, render_budget_ms

ORDINARY = "Lorem ipsum dolor sit amet, *consectetur* adipiscing elit. " * 35
PATHOLOGICAL = "![" * 99000
READS = ["/feeds/all.atom"] * 3 + ["/feeds/all.rss", "/"]


def stats(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def heaviest_accepted(settings: Settings, count: int) -> tuple[int, float]:
    """Writes count statements of links (the costliest markup per character)
    through the API of a `pressfeed serve`, each as long as the server accepts:
    the worst a writer can store. Starts from the longest that renders within
    the budget here, and shortens by a tenth on each 422 (the server's own
    measure decides). Returns their length and CPU milliseconds here."""
    low, high = 1, 33000
    while low < high:
        middle = (low + high + 1) // 2
        if min(
            _render("[a](b) " * middle, 1e9)[1] for _ in range(3)
        ) <= render_budget_ms("[a](b) " * middle):
            low = middle
        else:
            high = middle - 1
    links = low
    server = Server(settings)
    try:
        headers = {"Authorization": f"Bearer {create_token(settings)}"}
        written = 0
        while written < count:
            response = requests.post(
                f"{server.url}/api/statements",
                json={
                    "title": f"Statement {written}",
                    "body": f"Statement {written}.\n\n" + "[a](b) " * links,
                    "kind": "news",
                },
                headers=headers,
                timeout=60,
            )
            if response.status_code == 201:
                written += 1
            elif response.status_code == 422:
                links = int(links * 0.9)
            else:
                raise SystemExit(f"create answered {response.status_code}")
    finally:
        server.stop()
    body = "[a](b) " * links
    return len(body), min(_render(body, 1e9)[1] for _ in range(3))


def build_store(directory: Path, bodies: list[str]) -> Settings:
    """Statements written straight through the application, as a store written
    before the budget holds them (the API would refuse the pathological ones)."""
    settings = Settings.from_env({"PRESSFEED_INSTANCE_DIR": str(directory)})
    app = PressOffice(env=settings.eventsourcing_env())
    start = datetime.now(UTC) - timedelta(days=1)
    app.import_statements(
        [
            NewStatement(
                title=f"Statement {i}",
                body=f"Statement {i}.\n\n{body}",  # ten different bodies
                kind="news",
                published_at=start + timedelta(minutes=i),
            )
            for i, body in enumerate(bodies)
        ],
        actor="benchmark",
    )
    app.close()
    return settings


def cold_reads(settings: Settings) -> float:
    """A fresh `pressfeed serve` (nothing rendered yet), the five requests at
    once: seconds until the last answer."""
    server = Server(settings)
    try:
        wait_for_views(server.url)
        answers: list[int] = []
        barrier = threading.Barrier(len(READS))

        def read(path: str) -> None:
            barrier.wait()
            answers.append(requests.get(server.url + path, timeout=600).status_code)

        threads = [threading.Thread(target=read, args=(p,)) for p in READS]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if answers != [200] * len(READS):
            raise SystemExit(f"reads answered {answers}")
        return elapsed
    finally:
        server.stop()


def refused_creates(settings: Settings, count: int) -> dict:
    """The issue's body sent to the API: status and seconds per create."""
    server = Server(settings)
    try:
        headers = {"Authorization": f"Bearer {create_token(settings)}"}
        statuses, seconds = [], []
        for i in range(count):
            started = time.perf_counter()
            response = requests.post(
                f"{server.url}/api/statements",
                json={"title": f"Heavy {i}", "body": PATHOLOGICAL, "kind": "news"},
                headers=headers,
                timeout=600,
            )
            seconds.append(time.perf_counter() - started)
            statuses.append(response.status_code)
        return {"statuses": sorted(set(statuses)), "seconds": stats(seconds)}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--statements", type=int, default=10)
    args = parser.parse_args()
    n = args.statements
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as scratch:
        stores = {}
        for name, bodies in (
            ("baseline", [ORDINARY] * n),
            ("legacy", [PATHOLOGICAL] * n),
        ):
            directory = Path(scratch) / name
            directory.mkdir()
            stores[name] = build_store(directory, bodies)
        directory = Path(scratch) / "at_budget"
        directory.mkdir()
        stores["at_budget"] = Settings.from_env(
            {"PRESSFEED_INSTANCE_DIR": str(directory)}
        )
        heavy_chars, heavy_ms = heaviest_accepted(stores["at_budget"], n)
        for name in ("baseline", "at_budget", "legacy"):
            figures[f"cold_reads_{name}_s"] = stats(
                [cold_reads(stores[name]) for _ in range(args.runs)]
            )
        directory = Path(scratch) / "api"
        directory.mkdir()
        figures["api_create_of_the_issue_body"] = refused_creates(
            Settings.from_env({"PRESSFEED_INSTANCE_DIR": str(directory)}), 3
        )
    base = figures["cold_reads_baseline_s"]["median"]
    result = {
        "budget_ms": {
            "write": render_budget_ms("x" * heavy_chars),
            "read": READ_BUDGET_MS,
        },
        "at_budget_body": {
            "characters": heavy_chars,
            "render_cpu_ms_here": round(heavy_ms, 1),
        },
        "statements": n,
        "reads": READS,
        "figures": figures,
        "ratios": {
            "at_budget_vs_baseline": round(
                figures["cold_reads_at_budget_s"]["median"] / base, 2
            ),
            "legacy_vs_baseline": round(
                figures["cold_reads_legacy_s"]["median"] / base, 2
            ),
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
