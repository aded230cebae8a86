"""Rates of `pressfeed backup`, `restore` and `migrate` (events per second) on a
store of many statements, against baselines measured in the same run: a raw
read of the log (every stored event row, no checks) and a plain SQLite online
backup of the file (no verification). Prints one JSON document.

    .venv/bin/python -m benchmarks.backups [--statements 100000]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.export_memory import build_store
from pressfeed.backups import at_url, sqlite_url
from pressfeed.config import Settings, sqlite_path

EVENTS_PER_STATEMENT = 3  # Drafted, Published, and the slug's Reserved
PRESSFEED = str(Path(sys.executable).parent / "pressfeed")


def timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def cli(settings: Settings, *args: str) -> dict[str, Any]:
    """Runs the pressfeed command on settings' store; its JSON report."""
    env = {
        "PRESSFEED_INSTANCE_DIR": str(settings.instance_dir),
        "PRESSFEED_DATABASE_URL": settings.database_url,
    }
    result = subprocess.run(
        [PRESSFEED, *args], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.splitlines()[-1])


def raw_read(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT rowid, * FROM stored_events ORDER BY rowid")
        return sum(1 for _ in rows)


def plain_backup(path: Path, dest: Path) -> None:
    source, copy = sqlite3.connect(path), sqlite3.connect(dest)
    source.backup(copy)
    copy.close()
    source.close()


def rate(events: int, seconds: float) -> dict[str, float]:
    return {"seconds": round(seconds, 3), "events_per_second": round(events / seconds)}


def measure(statements: int, postgres: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        source = build_store(root / "office", statements * EVENTS_PER_STATEMENT)
        database = sqlite_path(source.database_url)
        figures: dict[str, Any] = {}
        events = raw_read(database)
        figures["raw_log_read"] = rate(events, timed(lambda: raw_read(database)))
        figures["plain_sqlite_backup"] = rate(
            events, timed(lambda: plain_backup(database, root / "plain.db"))
        )
        figures["backup"] = rate(
            events, timed(lambda: cli(source, "backup", str(root / "office.db")))
        )
        restored = at_url(source, sqlite_url(root / "restored" / "pressfeed.db"))
        figures["restore"] = rate(
            events, timed(lambda: cli(restored, "restore", str(root / "office.db")))
        )
        if postgres:
            schema = f"pf_bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(postgres, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                target = f"{postgres}?schema={schema}"
                figures["migrate_to_postgresql"] = rate(
                    events, timed(lambda: cli(source, "migrate", "--to", target))
                )
            finally:
                with psycopg.connect(postgres, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        return {"statements": statements, "events": events, "figures": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    result = measure(args.statements, args.postgres or None)
    figures = result["figures"]
    read = figures["raw_log_read"]["events_per_second"]
    plain = figures["plain_sqlite_backup"]["events_per_second"]
    result["ratios"] = {
        "backup_vs_plain_sqlite_backup": round(
            figures["backup"]["events_per_second"] / plain, 3
        ),
        "restore_vs_raw_log_read": round(
            figures["restore"]["events_per_second"] / read, 3
        ),
    }
    if "migrate_to_postgresql" in figures:
        result["ratios"]["migrate_vs_raw_log_read"] = round(
            figures["migrate_to_postgresql"]["events_per_second"] / read, 3
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
