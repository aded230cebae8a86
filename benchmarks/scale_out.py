"""Event-to-feed lag across processes and creates per second through the web tier:
PostgreSQL with `gunicorn -w 4` and `pressfeed worker`, against SQLite with
`pressfeed serve`, measured in the same run. Prints one JSON document.

    .venv/bin/python -m benchmarks.scale_out [--lag-samples 50] [--creates 400]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import requests
from tests.helpers import Gunicorn, Server, Worker, create_token

from pressfeed.config import Settings

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "median": round(statistics.median(ordered), 2),
        "p99": round(p99, 2),
        "min": round(ordered[0], 2),
        "max": round(ordered[-1], 2),
    }


def lag_ms(url: str, headers: dict, samples: int) -> list[float]:
    """From the 201 of a create to the first feed GET that shows it."""
    session = requests.Session()
    lags = []
    for n in range(samples):
        title = f"Lag probe {n} {uuid.uuid4().hex[:6]}"
        response = session.post(
            f"{url}/api/statements",
            json={"title": title, "body": "Probe", "kind": "news"},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 201
        created = time.perf_counter()
        while (
            title.encode()
            not in session.get(f"{url}/feeds/all.atom", timeout=10).content
        ):
            if time.perf_counter() - created > 10:
                raise SystemExit(f"{title} did not reach the feed")
        lags.append((time.perf_counter() - created) * 1000)
    return lags


def creates_per_second(url: str, headers: dict, count: int, clients: int = 16) -> float:
    def one(n: int) -> int:
        return requests.post(
            f"{url}/api/statements",
            json={"title": f"Load {n}", "body": "Body " * 300, "kind": "news"},
            headers=headers,
            timeout=60,
        ).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    assert statuses.count(201) == count, statuses
    return count / elapsed


@contextmanager
def postgres_deployment():
    schema = f"pf_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings.from_env(
            {
                "PRESSFEED_INSTANCE_DIR": directory,
                "PRESSFEED_DATABASE_URL": f"{POSTGRES_URL}?schema={schema}",
            }
        )
        headers = {"Authorization": f"Bearer {create_token(settings)}"}
        web, worker = (
            Gunicorn(settings, "--worker-class", "gthread", "--threads", "4"),
            Worker(settings),
        )
        try:
            yield web.url, headers
        finally:
            worker.stop()
            web.stop()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def sqlite_serve():
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings.from_env({"PRESSFEED_INSTANCE_DIR": str(Path(directory))})
        headers = {"Authorization": f"Bearer {create_token(settings)}"}
        server = Server(settings)
        try:
            yield server.url, headers
        finally:
            server.stop()


def measure(deployment, lag_samples: int, creates: int) -> dict:
    with deployment() as (url, headers):
        lags = lag_ms(url, headers, lag_samples)
        rate = creates_per_second(url, headers, creates)
    return {"lag_ms": summary(lags), "creates_per_second": round(rate, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lag-samples", type=int, default=50)
    parser.add_argument("--creates", type=int, default=400)
    args = parser.parse_args()
    postgres = measure(postgres_deployment, args.lag_samples, args.creates)
    sqlite = measure(sqlite_serve, args.lag_samples, args.creates)
    print(
        json.dumps(
            {
                "postgres_gunicorn_w4_worker": postgres,
                "sqlite_serve": sqlite,
                "ratios": {
                    "creates_postgres_vs_sqlite": round(
                        postgres["creates_per_second"] / sqlite["creates_per_second"], 3
                    ),
                    "lag_p50_postgres_vs_sqlite": round(
                        postgres["lag_ms"]["median"] / sqlite["lag_ms"]["median"], 3
                    ),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
