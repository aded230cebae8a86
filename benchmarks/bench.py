"""`make bench`: pressfeed's figures, each against a baseline measured in the same
run on the same machine (shared machines drift; ratios do not). Prints one JSON
document and writes it to benchmarks/results/latest.json.

    .venv/bin/python -m benchmarks.bench [--size 100000] [--small 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from tests.helpers import Gunicorn, Server, create_token

from benchmarks.edge import edge_figures
from benchmarks.export_memory import isolated_peak_rss_of_export
from benchmarks.scale_out import lag_ms, postgres_deployment, sqlite_serve, summary
from benchmarks.wrk import wrk
from pressfeed.application import PressOffice
from pressfeed.config import Settings

RESULTS = Path(__file__).parent / "results" / "latest.json"
PRESSFEED = str(Path(sys.executable).parent / "pressfeed")
BODY = "Lorem ipsum dolor sit amet. " * 70


class BareStatement(Aggregate):
    """The baseline: an aggregate with the same fields and no rules."""

    @event("Drafted")
    def __init__(
        self, slug: str, kind: str, title: str, body: str, tags: list[str]
    ) -> None:
        self.slug, self.kind, self.title, self.body, self.tags = (
            slug,
            kind,
            title,
            body,
            tags,
        )


def stats(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def repeat(runs: int, measure: Callable[[], float]) -> dict[str, float]:
    return stats([measure() for _ in range(runs)])


def settings_for(directory: Path, **env: str) -> Settings:
    return Settings.from_env({"PRESSFEED_INSTANCE_DIR": str(directory), **env})


# Baselines of eventsourcing itself


def raw_saves_per_second(count: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        app = Application(
            env=settings_for(Path(directory)).eventsourcing_env()
            | {"APPLICATION_RECORDER_TOPIC": ""}
        )
        items = [
            BareStatement(f"s-{i}", "news", f"Statement {i}", BODY, ["archive"])
            for i in range(count)
        ]
        started = time.perf_counter()
        for start in range(0, count, batch):
            app.save(*items[start : start + batch])
        elapsed = time.perf_counter() - started
        app.close()
    return count / elapsed


def raw_save_cpu_ms(count: int) -> float:
    """CPU milliseconds of one bare save() of one new aggregate (SQLite file)."""
    with tempfile.TemporaryDirectory() as directory:
        app = Application(
            env=settings_for(Path(directory)).eventsourcing_env()
            | {"APPLICATION_RECORDER_TOPIC": ""}
        )
        app.save(BareStatement("s-warm", "news", "Warm", "Text.", []))
        started = time.process_time()
        for i in range(count):
            app.save(BareStatement(f"s-{i}", "news", f"S {i}", "Text.", []))
        elapsed = time.process_time() - started
        app.close()
    return elapsed * 1000 / count


def raw_read_events_per_second(settings: Settings) -> float:
    app = PressOffice(env=settings.eventsourcing_env())
    started, count, position = time.perf_counter(), 0, 0
    while True:
        batch = app.recorder.select_notifications(
            start=position, limit=1000, inclusive_of_start=False
        )
        if not batch:
            break
        for notification in batch:
            app.mapper.to_domain_event(notification)
        count += len(batch)
        position = batch[-1].id
    elapsed = time.perf_counter() - started
    app.close()
    return count / elapsed


# pressfeed


def import_file(directory: Path, count: int) -> Path:
    """count statements an hour apart, from 2015 or, when they would reach
    today, from count hours ago: a back-dated import refuses future times."""
    path = directory / "statements.jsonl"
    start = min(
        datetime(2015, 1, 1, tzinfo=UTC),
        datetime.now(UTC) - timedelta(hours=count, days=1),
    )
    with path.open("w") as out:
        for i in range(count):
            line = {
                "title": f"Statement {i}",
                "body": f"Statement {i}. {BODY}",
                "kind": "news",
                "tags": ["archive", f"t{i % 20}"],
                "published_at": (start + timedelta(hours=i)).isoformat(),
            }
            out.write(json.dumps(line) + "\n")
    return path


def imports_per_second(settings: Settings, path: Path, count: int) -> float:
    env = {**os.environ, "PRESSFEED_INSTANCE_DIR": str(settings.instance_dir)}
    started = time.perf_counter()
    subprocess.run(
        [PRESSFEED, "import", str(path)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return count / (time.perf_counter() - started)


def scratch_import(root: Path, path: Path, count: int) -> float:
    """One more import of the same file into a store thrown away afterwards."""
    with tempfile.TemporaryDirectory(dir=root) as directory:
        return imports_per_second(settings_for(Path(directory)), path, count)


def press_office_of(directory: Path, count: int) -> Settings:
    """A store like the big one, with count statements: imported, 10% amended,
    views built."""
    settings = settings_for(directory)
    directory.mkdir(parents=True, exist_ok=True)
    imports_per_second(settings, import_file(directory, count), count)
    amend_some(settings)
    rebuild_events_per_second(settings)
    return settings


def amend_some(settings: Settings, every: int = 10) -> None:
    app = PressOffice(env=settings.eventsourcing_env())
    rows = app.recorder.select_notifications(start=0, limit=10**9)
    drafted = [n.originator_id for n in rows if n.topic.endswith("Statement.Drafted")]
    for statement_id in drafted[::every]:
        app.amend(
            statement_id,
            expected_version=2,
            changes={"body": BODY + " Amended."},
            change_note="Amended",
            minor=False,
            actor="benchmark",
        )
    app.close()


def rebuild_events_per_second(settings: Settings) -> float:
    env = {**os.environ, "PRESSFEED_INSTANCE_DIR": str(settings.instance_dir)}
    app = PressOffice(env=settings.eventsourcing_env())
    events = app.recorder.max_notification_id() or 0
    app.close()
    started = time.perf_counter()
    subprocess.run(
        [PRESSFEED, "rebuild"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return events / (time.perf_counter() - started)


WRK_POST = """
-- Each wrk thread has its own Lua state: number the threads so that no two
-- requests carry the same title (the same slug would be a 409).
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local counter = 0
request = function()
  counter = counter + 1
  local body = '{"title": "Benchmark ' .. thread_id .. '-' .. counter .. '", "body": "Text of the statement.", "kind": "news"}'
  return wrk.format("POST", "/api/statements", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer TOKEN"}, body)
end

local failures = {}
response = function(status, headers, body)
  if status >= 400 then
    failures[status] = (failures[status] or 0) + 1
    if failures[status] == 1 then io.stderr:write("status " .. status .. ": " .. body .. "\\n") end
  end
end
"""


def http_creates_per_second(directory: Path, seconds: int) -> float:
    settings = settings_for(directory)
    token = create_token(settings, name=f"bench-{time.monotonic_ns()}")
    script = directory / "post.lua"
    script.write_text(WRK_POST.replace("TOKEN", token))
    server = Server(settings)
    try:
        return wrk(server.url, connections=4, seconds=seconds, script=script)["rate"]
    finally:
        server.stop()


def session_cpu_seconds(session: int) -> float:
    """CPU time (user and system) spent so far by the live processes of a
    session: a server and every process it started."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[3]) == session:  # state ppid pgrp session ... utime stime
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def http_create_figures(
    directory: Path, seconds: int, *, web_only: bool = False
) -> dict[str, float]:
    """Creates from one connection (SQLite): median latency, and the server's
    CPU per create (all its processes and threads). Through `pressfeed serve`,
    whose projection worker applies each create in the same process; or with
    web_only, through gunicorn with one sync worker and no projection worker:
    the write path alone."""
    settings = settings_for(directory)
    token = create_token(settings, name=f"bench-{time.monotonic_ns()}")
    script = directory / "post.lua"
    script.write_text(WRK_POST.replace("TOKEN", token))
    server = Gunicorn(settings, "-w", "1") if web_only else Server(settings)
    try:
        wrk(server.url, connections=1, seconds=1, script=script)  # warm up
        session = server.process.pid
        cpu = session_cpu_seconds(session)
        run = wrk(server.url, connections=1, seconds=seconds, script=script)
        time.sleep(0.5)  # the projection worker applies the last creates
        cpu = session_cpu_seconds(session) - cpu
    finally:
        server.stop()
    return {"p50_ms": run["p50_ms"], "cpu_ms": cpu * 1000 / run["requests"]}


def feed_figures(
    settings: Settings, seconds: int, runs: int
) -> dict[str, list[dict[str, float]]]:
    """Feed, 304 and constant endpoint through gunicorn with 2 workers, in rounds
    so that drift touches each of them alike."""
    web = Gunicorn(settings, "-w", "2", PRESSFEED_BENCHMARK="1")
    try:
        feed = requests.get(f"{web.url}/feeds/all.atom", timeout=30)
        if b"<entry>" not in feed.content:
            raise SystemExit(f"The feed of {settings.instance_dir} is empty")
        feed_url = f"{web.url}/feeds/all.atom"
        constant_url = f"{web.url}/_bench/constant/{len(feed.content)}"
        not_modified = {"If-None-Match": feed.headers["ETag"]}
        rounds: dict[str, list[dict[str, float]]] = {
            "feed": [],
            "feed_304": [],
            "constant": [],
            "feed_latency": [],
        }
        for _ in range(runs):
            rounds["feed"].append(wrk(feed_url, connections=16, seconds=seconds))
            rounds["feed_304"].append(
                wrk(feed_url, connections=16, seconds=seconds, headers=not_modified)
            )
            rounds["constant"].append(
                wrk(constant_url, connections=16, seconds=seconds)
            )
            rounds["feed_latency"].append(wrk(feed_url, connections=1, seconds=seconds))
        return rounds
    finally:
        web.stop()


def peak_rss_after_serving_everything(
    settings: Settings, statement_pages: int
) -> float:
    """VmHWM (MiB) of the `serve` worker after every feed and listing page and a
    sample of statement pages."""
    server = Server(settings)
    session = requests.Session()
    try:
        urls = [
            "/",
            "/feeds/all.atom",
            "/feeds/all.rss",
            "/feeds/all.json",
            "/feeds/changes.atom",
        ]
        urls += [
            f"/feeds/{k}.{f}"
            for k in ("kind/news", "tag/archive")
            for f in ("atom", "rss", "json")
        ]
        pages = int(
            re.search(
                r"Page 1 of (\d+)", session.get(f"{server.url}/messages").text
            ).group(1)
        )
        urls += [f"/messages?page={n}" for n in range(1, pages + 1)]
        urls += [f"/statements/statement-{n}" for n in range(statement_pages)]
        archives = 1
        while (
            session.get(f"{server.url}/feeds/archive/{archives}.atom").status_code
            == 200
        ):
            archives += 1
        for url in urls:
            session.get(f"{server.url}{url}")
        children = subprocess.run(
            ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True
        ).stdout.split()
        peaks = []
        for pid in [str(server.process.pid), *children]:
            status = Path(f"/proc/{pid}/status").read_text()
            peaks.append(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024)
        return max(peaks)
    finally:
        server.stop()


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    from importlib.metadata import version

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        **{
            name: version(name)
            for name in ("eventsourcing", "feedgen", "flask", "gunicorn")
        },
        "sqlite": __import__("sqlite3").sqlite_version,
    }


def ratio(a: dict[str, float], b: dict[str, float]) -> float:
    return round(a["median"] / b["median"], 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--tiny", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--lag-samples", type=int, default=50)
    parser.add_argument("--probes", type=int, default=10)
    parser.add_argument("--quiet", type=float, default=2.0)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    started = time.monotonic()

    def log(step: str) -> None:
        print(
            f"[{time.monotonic() - started:6.1f} s] {step}", file=sys.stderr, flush=True
        )

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        log("raw saves")
        figures["raw_save_per_s"] = repeat(
            args.runs, lambda: raw_saves_per_second(500, 1)
        )
        log("HTTP creates through pressfeed serve (wrk, 4 connections)")
        figures["http_creates_per_s"] = repeat(
            args.runs,
            lambda: http_creates_per_second(
                Path(tempfile.mkdtemp(dir=root)), args.seconds
            ),
        )
        log("creates from one connection, and bare saves' CPU")
        creates = [
            http_create_figures(Path(tempfile.mkdtemp(dir=root)), args.seconds)
            for _ in range(args.runs)
        ]
        web_creates = [
            http_create_figures(
                Path(tempfile.mkdtemp(dir=root)), args.seconds, web_only=True
            )
            for _ in range(args.runs)
        ]
        figures["create_latency_ms_1_connection"] = stats(
            [c["p50_ms"] for c in web_creates]
        )
        figures["create_server_cpu_ms"] = stats([c["cpu_ms"] for c in web_creates])
        figures["create_latency_ms_1_connection_serve"] = stats(
            [c["p50_ms"] for c in creates]
        )
        figures["create_serve_cpu_ms"] = stats([c["cpu_ms"] for c in creates])
        figures["raw_save_cpu_ms"] = repeat(args.runs, lambda: raw_save_cpu_ms(300))
        log("raw batched saves")
        heavy = min(args.runs, 2)  # the 100,000-statement figures take minutes each
        figures["raw_batch_save_per_s"] = repeat(
            heavy, lambda: raw_saves_per_second(args.size, 1000)
        )
        log(f"import of {args.size}")
        big = settings_for(root / "big")
        lines = import_file(root, args.size)
        figures["import_per_s"] = stats(
            [imports_per_second(big, lines, args.size)]
            + [scratch_import(root, lines, args.size) for _ in range(heavy - 1)]
        )
        log("amend 10% and rebuild")
        amend_some(big)
        figures["rebuild_events_per_s"] = repeat(
            heavy, lambda: rebuild_events_per_second(big)
        )
        figures["raw_read_events_per_s"] = repeat(
            args.runs, lambda: raw_read_events_per_second(big)
        )
        log("feeds through gunicorn -w 2 (big store)")
        big_feeds = feed_figures(big, args.seconds, args.runs)
        small = press_office_of(root / "small", args.small)
        log("feeds (small store)")
        small_feeds = feed_figures(small, args.seconds, args.runs)
        log("keep-alive, gzip, nginx static and the documented cache (small store)")
        edge = edge_figures(
            small,
            settings_for(root / "probes"),
            root,
            seconds=args.seconds,
            runs=args.runs,
            probes=args.probes,
            quiet=args.quiet,
        )
        for name in ("feed", "feed_304", "constant"):
            figures[f"{name}_req_per_s"] = stats([r["rate"] for r in big_feeds[name]])
        figures["feed_latency_ms_big"] = stats(
            [r["p50_ms"] for r in big_feeds["feed_latency"]]
        )
        figures["feed_latency_ms_small"] = stats(
            [r["p50_ms"] for r in small_feeds["feed_latency"]]
        )
        log("serve RSS after serving pages (big and tiny)")
        tiny = press_office_of(root / "tiny", args.tiny)
        figures["serve_rss_mib_big"] = repeat(
            heavy, lambda: peak_rss_after_serving_everything(big, 1000)
        )
        figures["serve_rss_mib_tiny"] = repeat(
            args.runs, lambda: peak_rss_after_serving_everything(tiny, args.tiny)
        )
        log("export RSS (big and small)")
        figures["export_rss_mib_big"] = repeat(
            heavy, lambda: isolated_peak_rss_of_export(big)
        )
        figures["export_rss_mib_small"] = repeat(
            args.runs, lambda: isolated_peak_rss_of_export(small)
        )
        log("event to feed lag")
        lag_sqlite = summary(_lag(sqlite_serve, args.lag_samples))
        lag_postgres = (
            None
            if args.no_postgres
            else summary(_lag(postgres_deployment, args.lag_samples))
        )

    result = {
        "ratios": {
            "publish_vs_raw_save": ratio(
                figures["http_creates_per_s"], figures["raw_save_per_s"]
            ),
            "create_cpu_vs_raw_save_cpu": ratio(
                figures["create_server_cpu_ms"], figures["raw_save_cpu_ms"]
            ),
            "import_vs_raw_batch": ratio(
                figures["import_per_s"], figures["raw_batch_save_per_s"]
            ),
            "feed_vs_constant": ratio(
                figures["feed_req_per_s"], figures["constant_req_per_s"]
            ),
            "feed_304_vs_constant": ratio(
                figures["feed_304_req_per_s"], figures["constant_req_per_s"]
            ),
            "feed_100k_vs_1k": ratio(
                figures["feed_latency_ms_big"], figures["feed_latency_ms_small"]
            ),
            "rebuild_vs_raw_read": ratio(
                figures["rebuild_events_per_s"], figures["raw_read_events_per_s"]
            ),
            "serve_rss_100k_vs_100": ratio(
                figures["serve_rss_mib_big"], figures["serve_rss_mib_tiny"]
            ),
            "export_rss_100k_vs_1k": ratio(
                figures["export_rss_mib_big"], figures["export_rss_mib_small"]
            ),
            "feed_keep_alive_vs_nginx_static": edge["ratios"]["keep_alive"],
            "feed_gzip_vs_identity": edge["ratios"]["keep_alive_gzip"],
            "through_cache_vs_nginx_static": edge["ratios"]["through_cache"],
        },
        "edge": {
            "req_per_s": edge["req_per_s"],
            "bytes_on_the_wire": edge["bytes_on_the_wire"],
            "staleness": edge["staleness"],
        },
        "lag_ms": {
            "sqlite_p50": lag_sqlite["median"],
            "sqlite_p99": lag_sqlite["p99"],
            "postgres_p50": lag_postgres["median"] if lag_postgres else None,
            "postgres_p99": lag_postgres["p99"] if lag_postgres else None,
        },
        "figures": figures,
        "sizes": {
            "size": args.size,
            "small": args.small,
            "tiny": args.tiny,
            "runs": args.runs,
        },
        "machine": machine(),
        "seconds": round(time.monotonic() - started, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _lag(deployment, samples: int) -> list[float]:
    with deployment() as (url, headers):
        return lag_ms(url, headers, samples)


if __name__ == "__main__":
    main()
