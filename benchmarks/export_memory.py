"""Peak memory of exporting the event log (`pressfeed export`, the same generator
that serves /audit/log): a large log against a small one, measured in the same
run. Prints one JSON document.

    .venv/bin/python -m benchmarks.export_memory [--events 100000] [--baseline 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pressfeed.application import NewStatement, PressOffice
from pressfeed.config import Settings

EVENTS_PER_STATEMENT = 3  # Drafted, Published, and the slug's Reserved
PRESSFEED = str(Path(sys.executable).parent / "pressfeed")


def build_store(directory: Path, events: int) -> Settings:
    settings = Settings.from_env({"PRESSFEED_INSTANCE_DIR": str(directory)})
    app = PressOffice(env=settings.eventsourcing_env())
    body = "Lorem ipsum dolor sit amet. " * 70  # about 2 KB, like a real statement
    start = datetime(2015, 1, 1, tzinfo=UTC)
    statements = [
        NewStatement(
            title=f"Statement {i}",
            body=body,
            kind="news",
            tags=["archive"],
            published_at=start + timedelta(hours=i),
        )
        for i in range(max(1, events // EVENTS_PER_STATEMENT))
    ]
    app.import_statements(statements, actor="benchmark")
    app.close()
    return settings


def peak_rss_of_export(settings: Settings) -> tuple[float, float, int]:
    """(peak RSS in MiB, seconds, lines) of one `pressfeed export` process."""
    out = settings.instance_dir / "export.ndjson"
    env = {**os.environ, "PRESSFEED_INSTANCE_DIR": str(settings.instance_dir)}
    started = time.perf_counter()
    process = subprocess.Popen(
        [PRESSFEED, "export", str(out)], env=env, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"pressfeed export failed with status {status}")
    with out.open("rb") as lines:
        count = sum(1 for _ in lines)
    return usage.ru_maxrss / 1024, elapsed, count


def measure(events: int, runs: int) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        # Built in a child process: Linux counts a parent's size at fork in its
        # children's peak RSS, so this process must stay small.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.export_memory",
                "--build",
                directory,
                "--events",
                str(events),
            ],
            check=True,
        )
        settings = Settings.from_env({"PRESSFEED_INSTANCE_DIR": directory})
        samples = [peak_rss_of_export(settings) for _ in range(runs)]
    rss = sorted(s[0] for s in samples)
    seconds = sorted(s[1] for s in samples)
    return {
        "events": samples[0][2],
        "peak_rss_mib": {"median": rss[len(rss) // 2], "min": rss[0], "max": rss[-1]},
        "seconds": {
            "median": seconds[len(seconds) // 2],
            "min": seconds[0],
            "max": seconds[-1],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--build", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        build_store(Path(args.build), args.events)
        return
    if args.measure:
        settings = Settings.from_env({"PRESSFEED_INSTANCE_DIR": args.measure})
        print(json.dumps(peak_rss_of_export(settings)))
        return
    large = measure(args.events, args.runs)
    small = measure(args.baseline, args.runs)
    result = {
        "figures": {"export_large": large, "export_small": small},
        "ratios": {
            "export_rss_large_vs_small": round(
                large["peak_rss_mib"]["median"] / small["peak_rss_mib"]["median"], 3
            )
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()


def isolated_peak_rss_of_export(settings: Settings) -> float:
    """peak_rss_of_export, measured from a small process: a big caller would
    pass its own size at fork into the child's peak."""
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.export_memory",
            "--measure",
            str(settings.instance_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output)[0]
