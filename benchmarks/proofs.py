"""Proof time and size of the log's Merkle tree: inclusion and consistency
proofs (and the root) in a log of 100,000 events against one of 1,000, measured
in the same run; both should grow with the logarithm of the size. Prints one
JSON document.

    .venv/bin/python -m benchmarks.proofs [--events 100000] [--baseline 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pressfeed.application import NewStatement
from pressfeed.assembly import Pressfeed
from pressfeed.config import Settings
from pressfeed.web import create_app

EVENTS_PER_STATEMENT = 3  # Drafted, Published, and the slug's Reserved


def build(directory: Path, events: int) -> Pressfeed:
    settings = Settings.from_env({"PRESSFEED_INSTANCE_DIR": str(directory)})
    pressfeed = Pressfeed(settings)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    pressfeed.press_office.import_statements(
        [
            NewStatement(
                title=f"Statement {i}",
                body="Lorem ipsum dolor sit amet. " * 70,
                kind="news",
                published_at=start + timedelta(hours=i),
            )
            for i in range(max(1, events // EVENTS_PER_STATEMENT))
        ],
        actor="benchmark",
    )
    return pressfeed


def stats(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {
        "median": round(values[len(values) // 2], 4),
        "min": round(values[0], 4),
        "max": round(values[-1], 4),
    }


def measure(events: int, samples: int) -> dict:
    rng = random.Random(9162)
    with tempfile.TemporaryDirectory() as directory:
        pressfeed = build(Path(directory), events)
        client = create_app(services=pressfeed).test_client()
        tree = pressfeed.ledger.tree
        size = tree.size()
        figures: dict[str, dict] = {}
        routes = {
            "inclusion": lambda: (
                f"/audit/proof/inclusion?index={rng.randrange(size)}&size={size}"
            ),
            "consistency": lambda: (
                f"/audit/proof/consistency?from={rng.randrange(1, size + 1)}&to={size}"
            ),
        }
        for name, query in routes.items():
            times, lengths = [], []
            for _ in range(samples):
                path = query()
                started = time.perf_counter()
                answer = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, answer.get_data(as_text=True)
                lengths.append(len(answer.get_json()["hashes"]))
            figures[name] = {"ms": stats(times), "hashes": stats(lengths)}
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            tree.root(size)
            times.append((time.perf_counter() - started) * 1000)
        figures["root"] = {"ms": stats(times)}
        pressfeed.close()
    return {"events": size, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    large = measure(args.events, args.samples)
    small = measure(args.baseline, args.samples)

    def ratio(name: str) -> float:
        return round(large[name]["ms"]["median"] / small[name]["ms"]["median"], 3)

    print(
        json.dumps(
            {
                "figures": {"large": large, "small": small},
                "ratios": {
                    "inclusion_ms_large_vs_small": ratio("inclusion"),
                    "consistency_ms_large_vs_small": ratio("consistency"),
                    "root_ms_large_vs_small": ratio("root"),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
