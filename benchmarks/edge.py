"""Serving at the machine's limit: the Atom feed over kept-alive connections
(identity and gzip), with gunicorn's sync workers, and through the deployment
guide's nginx cache, each against nginx serving the same bytes from a file,
measured in interleaved rounds of the same run; and how stale the cache is after
a correction, with readers busy and after quiet. Prints one JSON document.

    .venv/bin/python -m benchmarks.edge [--statements 1000] [--runs 5] [--probes 10]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from tests.helpers import BusyReaders, Gunicorn, Nginx, Server, create_token, shown
from tests.helpers import staleness as staleness_of

from benchmarks.wrk import wrk
from pressfeed.config import Settings

FEED = "/feeds/all.atom"
GZIP = {"Accept-Encoding": "gzip"}
# The deployment guide's web tier: kept-alive connections, requests read whole
# by the selector loop before a thread takes them.
KEEP_ALIVE_WORKERS = (
    "-w", "2", "-k", "pressfeed.server.HeadFirstWorker", "--threads", "4",
    "--keep-alive", "5",
)  # fmt: skip
SYNC_WORKERS = ("-w", "2")


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def summary_ms(seconds: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(seconds) * 1000, 1),
        "max": round(max(seconds) * 1000, 1),
    }


@contextmanager
def running(*processes: Any) -> Iterator[None]:
    try:
        yield
    finally:
        for process in reversed(processes):
            process.stop()


def throughput(settings: Settings, root: Path, seconds: int, runs: int) -> dict:
    """req/s of each way of serving the feed, 16 connections, rounds interleaved."""
    web = Gunicorn(settings, *KEEP_ALIVE_WORKERS)
    sync = Gunicorn(settings, *SYNC_WORKERS)
    identity = requests.get(web.url + FEED, timeout=30).content
    static = root / "static"
    (static / "feeds").mkdir(parents=True)
    (static / "feeds" / "all.atom").write_bytes(identity)
    nginx = Nginx(root / "nginx", f"127.0.0.1:{web.port}", static=static, workers=2)
    cases = {
        "nginx_static": (nginx.static_url + FEED, {}),
        "keep_alive": (web.url + FEED, {}),
        "keep_alive_gzip": (web.url + FEED, GZIP),
        "sync_workers": (sync.url + FEED, {}),
        "through_cache": (nginx.url + FEED, {}),
    }
    rates: dict[str, list[float]] = {name: [] for name in cases}
    with running(web, sync, nginx):
        for _ in range(runs):
            for name, (url, headers) in cases.items():
                rates[name].append(
                    wrk(url, connections=16, seconds=seconds, headers=headers)["rate"]
                )
        wire = requests.get(web.url + FEED, headers=GZIP, stream=True, timeout=30)
        gzip_bytes = len(wire.raw.read(decode_content=False))
    assert gzip.decompress(gzip.compress(identity)) == identity
    return {
        "req_per_s": {name: median(values) for name, values in rates.items()},
        "bytes_on_the_wire": {"identity": len(identity), "gzip": gzip_bytes},
    }


def staleness(settings: Settings, root: Path, probes: int, quiet: float) -> dict:
    """Seconds a correction takes to show through the cache once pressfeed shows
    it: with readers polling the cache, and for the first reader after quiet."""
    token = create_token(settings, name=f"edge-{time.monotonic_ns()}")
    headers = {"Authorization": f"Bearer {token}"}
    server = Server(settings)
    nginx = Nginx(root / "nginx-staleness", f"127.0.0.1:{server.port}")
    direct, cached = server.url + FEED, nginx.url + FEED
    with running(server, nginx):
        statement = requests.post(
            f"{server.url}/api/statements",
            json={"title": "Probe 0", "body": "The text.", "kind": "news"},
            headers=headers,
            timeout=10,
        ).json()

        def correct(n: int) -> None:
            nonlocal statement
            statement = requests.post(
                f"{server.url}/api/statements/{statement['id']}/amendments",
                json={"title": f"Probe {n}", "change_note": f"Probe {n}"},
                headers={**headers, "If-Match": f'"{statement["version"]}"'},
                timeout=10,
            ).json()

        busy = []
        with BusyReaders(cached) as readers:
            time.sleep(1.5)
            for n in range(1, probes + 1):
                correct(n)
                busy.append(staleness_of(direct, cached, f"Probe {n}<"))
        after_quiet = []
        for n in range(probes + 1, 2 * probes + 1):
            requests.get(cached, timeout=5)
            time.sleep(quiet)
            correct(n)
            shown(direct, f"Probe {n}<")
            after_quiet.append(staleness_of(direct, cached, f"Probe {n}<"))
    return {
        "busy_ms": summary_ms(busy),
        "after_quiet_ms": summary_ms(after_quiet),
        "quiet_s": quiet,
        "busy_cache_hits": readers.statuses.count("HIT"),
        "busy_reads": len(readers.statuses),
    }


def edge_figures(
    store: Settings,
    probes_store: Settings,
    root: Path,
    *,
    seconds: int,
    runs: int,
    probes: int,
    quiet: float,
) -> dict[str, Any]:
    """Throughput of each way of serving store's feed, the staleness of the
    cache (measured on probes_store, which gets corrections), and the ratios."""
    figures = throughput(store, root, seconds, runs)
    figures["staleness"] = staleness(probes_store, root, probes, quiet)
    rates = figures["req_per_s"]
    figures["ratios"] = {
        name: round(rates[name] / rates[base], 3)
        for name, base in (
            ("keep_alive", "nginx_static"),
            ("sync_workers", "nginx_static"),
            ("through_cache", "nginx_static"),
            ("keep_alive_gzip", "keep_alive"),
        )
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statements", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--probes", type=int, default=10)
    parser.add_argument("--quiet", type=float, default=2.0)
    args = parser.parse_args()
    from benchmarks.bench import press_office_of, settings_for  # bench imports us

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        figures = edge_figures(
            press_office_of(root / "store", args.statements),
            settings_for(root / "probes"),
            root,
            seconds=args.seconds,
            runs=args.runs,
            probes=args.probes,
            quiet=args.quiet,
        )
    figures["statements"] = args.statements
    json.dump(figures, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
