"""`make bench-scale`: pressfeed at a million statements on PostgreSQL, against
the same measured at a thousand in the same run. Each size is imported with
`pressfeed import`, rebuilt with `pressfeed rebuild`, then served by gunicorn
(the deployment guide's web processes) and read as people read it: the Atom
feed, a deep page of /messages, statement pages, search (when the site has it),
an inclusion proof, and the memory of `pressfeed export`. Prints one JSON
document; README's "At a million statements" holds the latest figures.

    .venv/bin/python -m benchmarks.scale [--statements 1000000] [--baseline 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import requests
from tests.helpers import Gunicorn, env_for

from benchmarks.bench import import_file
from pressfeed.assembly import Pressfeed
from pressfeed.config import Settings

POSTGRES_URL = os.environ.get(
    "PRESSFEED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PRESSFEED = str(Path(sys.executable).parent / "pressfeed")
WEB = ("-w", "2", "-k", "pressfeed.server.HeadFirstWorker", "--threads", "4")
SAMPLES = 40


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def postgres_store(root: Path) -> Iterator[Settings]:
    """A fresh schema on the PostgreSQL server, dropped afterwards."""
    schema = f"pf_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    directory = Path(tempfile.mkdtemp(dir=root))
    try:
        yield Settings.from_env(
            {
                "PRESSFEED_INSTANCE_DIR": str(directory),
                "PRESSFEED_DATABASE_URL": f"{POSTGRES_URL}?schema={schema}",
            }
        )
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def timed_cli(settings: Settings, *args: str) -> float:
    """Seconds one `pressfeed` command took."""
    started = time.perf_counter()
    subprocess.run(
        [PRESSFEED, *args],
        env=env_for(settings),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def export_peak_rss_mib(settings: Settings) -> float:
    """Peak RSS of one `pressfeed export` process (the log streamed to a file)."""
    out = settings.instance_dir / "export.ndjson"
    process = subprocess.Popen(
        [PRESSFEED, "export", str(out)],
        env=env_for(settings),
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"pressfeed export failed with status {status}")
    out.unlink()
    return round(usage.ru_maxrss / 1024, 1)


def latency_ms(session: requests.Session, urls: list[str]) -> dict[str, float]:
    """Median and p99 of one GET of each URL (each a first request for its
    bytes unless the list repeats one)."""
    times = []
    for url in urls:
        started = time.perf_counter()
        response = session.get(url, timeout=120)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code}")
    times.sort()
    return {
        "median": round(statistics.median(times), 2),
        "p99": round(times[min(len(times) - 1, round(0.99 * (len(times) - 1)))], 2),
    }


def read_figures(settings: Settings, statements: int) -> dict[str, Any]:
    """What readers and auditors wait for, through gunicorn."""
    rng = random.Random(statements)
    pressfeed = Pressfeed(settings)
    tree_size = pressfeed.ledger.tree.size()
    web = Gunicorn(settings, *WEB)
    session = requests.Session()
    try:
        base = web.url
        last_page = max(1, -(-statements // 20))
        deep = [last_page - n for n in range(min(SAMPLES, last_page))]
        figures = {
            "feed_ms": latency_ms(session, [f"{base}/feeds/all.atom"] * SAMPLES),
            "deep_messages_page_ms": latency_ms(
                session, [f"{base}/messages?page={p}" for p in deep]
            ),
            "statement_page_ms": latency_ms(
                session,
                [
                    f"{base}/statements/statement-{rng.randrange(statements)}"
                    for _ in range(SAMPLES)
                ],
            ),
            "proof_ms": latency_ms(
                session,
                [
                    f"{base}/audit/proof/inclusion?index={rng.randrange(tree_size)}"
                    f"&size={tree_size}"
                    for _ in range(SAMPLES)
                ],
            ),
        }
        if session.get(f"{base}/search?q=statement", timeout=120).status_code == 200:
            figures["search_ms"] = latency_ms(
                session,
                [
                    f"{base}/search?q=statement+{rng.randrange(statements)}"
                    for _ in range(SAMPLES)
                ],
            )
    finally:
        web.stop()
    figures["tree_size"] = tree_size
    return figures


def measure(root: Path, statements: int) -> dict[str, Any]:
    with postgres_store(root) as settings:
        log(f"{statements}: writing the import file")
        lines = import_file(Path(tempfile.mkdtemp(dir=root)), statements)
        log(f"{statements}: pressfeed import")
        imported = timed_cli(settings, "import", str(lines))
        log(f"{statements}: pressfeed rebuild")
        rebuilt = timed_cli(settings, "rebuild")
        log(f"{statements}: reads")
        figures = read_figures(settings, statements)
        log(f"{statements}: export")
        figures["export_peak_rss_mib"] = export_peak_rss_mib(settings)
    figures.update(
        statements=statements,
        import_seconds=round(imported, 1),
        import_per_s=round(statements / imported, 1),
        rebuild_seconds=round(rebuilt, 1),
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statements", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = measure(Path(tmp), args.baseline)
        large = measure(Path(tmp), args.statements)
    reads = [key for key in small if key.endswith("_ms")]
    ratios = {
        f"{key}_vs_baseline": round(large[key]["median"] / small[key]["median"], 3)
        for key in reads
    }
    ratios["export_rss_vs_baseline"] = round(
        large["export_peak_rss_mib"] / small["export_peak_rss_mib"], 3
    )
    print(json.dumps({"ratios": ratios, "large": large, "baseline": small}, indent=2))


if __name__ == "__main__":
    main()
