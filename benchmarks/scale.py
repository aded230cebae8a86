"""`make bench-scale`: pressfeed at a million statements on PostgreSQL, against
the same measured at a thousand in the same run. Each size is imported with
`pressfeed import`, rebuilt with `pressfeed rebuild`, then served by gunicorn
(the deployment guide's web processes) and read as people read it: the Atom
feed, a deep page of /messages, statement pages, search (when the site has it),
an inclusion proof, and the memory of `pressfeed export`. Both stores stay up
until the end and are read in interleaved rounds, so a drift of the machine
weighs on both alike. Prints one JSON document; README's "At a million
statements" holds the latest figures.

    .venv/bin/python -m benchmarks.scale [--statements 1000000] [--baseline 1000] [--rounds 3]

--keep leaves both schemas in the database (their names are logged), and
--reuse BASELINE_SCHEMA LARGE_SCHEMA reads two stores made so, without
importing and rebuilding them again (an hour and more at a million): for
measuring a change to the read path.
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
from contextlib import ExitStack, contextmanager
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


def store_settings(root: Path, schema: str) -> Settings:
    """A press office on this schema of the PostgreSQL server."""
    return Settings.from_env(
        {
            "PRESSFEED_INSTANCE_DIR": tempfile.mkdtemp(dir=root),
            "PRESSFEED_DATABASE_URL": f"{POSTGRES_URL}?schema={schema}",
        }
    )


@contextmanager
def postgres_store(root: Path, keep: bool) -> Iterator[Settings]:
    """A fresh schema on the PostgreSQL server, dropped afterwards unless kept."""
    schema = f"pf_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield store_settings(root, schema)
    finally:
        if keep:
            log(f"kept the schema {schema}")
        else:
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


def timed_gets(session: requests.Session, urls: list[str]) -> list[float]:
    """Milliseconds of one GET of each URL (each a first request for its bytes
    unless the list repeats one)."""
    times = []
    for url in urls:
        started = time.perf_counter()
        response = session.get(url, timeout=120)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code}")
    return times


def summary(times: list[float]) -> dict[str, float]:
    """Median and p99."""
    times = sorted(times)
    return {
        "median": round(statistics.median(times), 2),
        "p99": round(times[min(len(times) - 1, round(0.99 * (len(times) - 1)))], 2),
        "samples": len(times),
    }


def read_round(
    settings: Settings, statements: int, seed: int
) -> dict[str, list[float]]:
    """One round of what readers and auditors wait for, through a fresh
    gunicorn (its caches cold, as after a deployment)."""
    rng = random.Random(seed)
    tree_size = Pressfeed(settings).ledger.tree.size()
    web = Gunicorn(settings, *WEB)
    session = requests.Session()
    try:
        base = web.url
        last_page = max(1, -(-statements // 20))
        deep = [last_page - n for n in range(min(SAMPLES, last_page))]
        return {
            "feed_ms": timed_gets(session, [f"{base}/feeds/all.atom"] * SAMPLES),
            "deep_messages_page_ms": timed_gets(
                session, [f"{base}/messages?page={p}" for p in deep]
            ),
            "statement_page_ms": timed_gets(
                session,
                [
                    f"{base}/statements/statement-{rng.randrange(statements)}"
                    for _ in range(SAMPLES)
                ],
            ),
            "proof_ms": timed_gets(
                session,
                [
                    f"{base}/audit/proof/inclusion?index={rng.randrange(tree_size)}"
                    f"&size={tree_size}"
                    for _ in range(SAMPLES)
                ],
            ),
            "search_ms": timed_gets(
                session,
                [
                    f"{base}/search?q=statement+{rng.randrange(statements)}"
                    for _ in range(SAMPLES)
                ],
            ),
        }
    finally:
        web.stop()


@contextmanager
def press_office(
    root: Path, statements: int, keep: bool = False
) -> Iterator[tuple[Settings, dict[str, Any]]]:
    """A PostgreSQL store of this many statements, imported and rebuilt, with
    the seconds each took."""
    with postgres_store(root, keep) as settings:
        log(f"{statements}: writing the import file")
        lines = import_file(Path(tempfile.mkdtemp(dir=root)), statements)
        log(f"{statements}: pressfeed import")
        imported = timed_cli(settings, "import", str(lines))
        lines.unlink()
        log(f"{statements}: pressfeed rebuild")
        rebuilt = timed_cli(settings, "rebuild")
        yield (
            settings,
            {
                "statements": statements,
                "import_seconds": round(imported, 1),
                "import_per_s": round(statements / imported, 1),
                "rebuild_seconds": round(rebuilt, 1),
                "tree_size": Pressfeed(settings).ledger.tree.size(),
            },
        )


@contextmanager
def reused_press_office(
    root: Path, schema: str
) -> Iterator[tuple[Settings, dict[str, Any]]]:
    """A store an earlier run kept (--keep), read as it is."""
    settings = store_settings(root, schema)
    pressfeed = Pressfeed(settings)
    try:
        statements = pressfeed.views.query(
            "SELECT count(*) AS n FROM {t}", t="pf_catalogue"
        )[0]["n"]
        yield (
            settings,
            {
                "statements": statements,
                "reused_schema": schema,
                "tree_size": pressfeed.ledger.tree.size(),
            },
        )
    finally:
        pressfeed.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statements", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", nargs=2, metavar=("BASELINE_SCHEMA", "SCHEMA"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stores:
        sizes = [
            stores.enter_context(
                reused_press_office(Path(tmp), schema)
                if args.reuse
                else press_office(Path(tmp), size, args.keep)
            )
            for size, schema in zip(
                (args.baseline, args.statements),
                args.reuse or (None, None),
                strict=True,
            )
        ]
        times: list[dict[str, list[float]]] = [{}, {}]
        for round_ in range(args.rounds):
            for (settings, figures), collected in zip(sizes, times, strict=True):
                log(f"{figures['statements']}: reads, round {round_ + 1}")
                seed = figures["statements"] * 100 + round_
                for key, values in read_round(
                    settings, figures["statements"], seed
                ).items():
                    collected.setdefault(key, []).extend(values)
        for (settings, figures), collected in zip(sizes, times, strict=True):
            log(f"{figures['statements']}: export")
            figures.update({key: summary(values) for key, values in collected.items()})
            figures["export_peak_rss_mib"] = export_peak_rss_mib(settings)
    small, large = (figures for _, figures in sizes)
    ratios = {
        f"{key}_vs_baseline": round(large[key]["median"] / small[key]["median"], 3)
        for key in times[0]
    }
    ratios["export_rss_vs_baseline"] = round(
        large["export_peak_rss_mib"] / small["export_peak_rss_mib"], 3
    )
    print(json.dumps({"ratios": ratios, "large": large, "baseline": small}, indent=2))


if __name__ == "__main__":
    main()
