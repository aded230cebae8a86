"""The benchmarks still run (on a tiny size): they are measured, not tested, but
must not rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def benchmark_report(module: str, *args: str) -> dict:
    """Runs `python -m benchmarks.<module> args` and reads the JSON it prints."""
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(result.stdout)


def test_the_export_memory_benchmark_runs_and_reports_a_ratio():
    report = benchmark_report(
        "export_memory", "--events", "300", "--baseline", "30", "--runs", "1"
    )
    assert report["figures"]["export_large"]["events"] >= 297
    assert report["ratios"]["export_rss_large_vs_small"] > 0


def test_the_scale_out_benchmark_runs(tmp_path):
    from tests.conftest import require_postgres

    require_postgres()
    report = benchmark_report("scale_out", "--lag-samples", "3", "--creates", "16")
    assert report["sqlite_serve"]["creates_per_second"] > 0
    assert report["postgres_gunicorn_w4_worker"]["lag_ms"]["median"] > 0


def test_make_bench_runs_on_a_tiny_size(tmp_path):
    from tests.conftest import require_postgres, require_program

    require_program("wrk", "wrk")
    require_program("nginx", "nginx-light")
    require_postgres()
    output = tmp_path / "bench.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench",
            "--size",
            "300",
            "--small",
            "60",
            "--tiny",
            "30",
            "--runs",
            "1",
            "--seconds",
            "1",
            "--lag-samples",
            "3",
            "--probes",
            "2",
            "--quiet",
            "1.5",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads(output.read_text())
    assert set(report["ratios"]) == {
        "publish_vs_raw_save",
        "create_cpu_vs_raw_save_cpu",
        "import_vs_raw_batch",
        "feed_vs_constant",
        "feed_304_vs_constant",
        "feed_100k_vs_1k",
        "rebuild_vs_raw_read",
        "serve_rss_100k_vs_100",
        "export_rss_100k_vs_1k",
        "feed_keep_alive_vs_nginx_static",
        "feed_gzip_vs_identity",
        "through_cache_vs_nginx_static",
    }
    staleness = report["edge"]["staleness"]
    assert staleness["busy_cache_hits"] > 0
    assert staleness["after_quiet_ms"]["max"] < 1000
    assert set(report["lag_ms"]) == {
        "sqlite_p50",
        "sqlite_p99",
        "postgres_p50",
        "postgres_p99",
    }
    assert all(value > 0 for value in report["ratios"].values())
    assert {"cpu", "cores"} <= report["machine"].keys()
    assert report["figures"]["create_server_cpu_ms"]["median"] > 0
    assert report["figures"]["create_latency_ms_1_connection"]["median"] > 0


def test_the_proofs_benchmark_runs_and_reports_ratios():
    report = benchmark_report(
        "proofs", "--events", "300", "--baseline", "30", "--samples", "5"
    )
    assert report["figures"]["large"]["events"] == 300
    assert report["figures"]["large"]["inclusion"]["hashes"]["max"] <= 9
    assert report["ratios"]["inclusion_ms_large_vs_small"] > 0


def test_the_slug_benchmark_runs_and_reports_ratios():
    report = benchmark_report("slugs", "--creates", "60", "--window", "10")
    assert report["figures"]["creates"] == 60
    assert report["ratios"]["same_title_last_vs_first"] > 0
    assert report["ratios"]["distinct_titles_last_vs_first"] > 0


def test_the_render_cost_benchmark_runs_and_reports_ratios():
    report = benchmark_report("render_cost", "--runs", "1", "--statements", "2")
    assert report["figures"]["api_create_of_the_issue_body"]["statuses"] == [422]
    assert set(report["ratios"]) == {"at_budget_vs_baseline", "legacy_vs_baseline"}
    assert all(value > 0 for value in report["ratios"].values())


def test_the_scale_benchmark_runs_and_reports_ratios():
    from tests.conftest import require_postgres

    require_postgres()
    report = benchmark_report("scale", "--statements", "120", "--baseline", "40")
    assert report["large"]["statements"] == 120
    assert report["large"]["tree_size"] > report["baseline"]["tree_size"]
    assert {"feed_ms_vs_baseline", "deep_messages_page_ms_vs_baseline"} <= set(
        report["ratios"]
    )


def test_the_backups_benchmark_reports_rates_and_ratios():
    from tests.conftest import require_postgres

    require_postgres()
    report = benchmark_report("backups", "--statements", "200")
    assert report["events"] == 600
    for name in ("backup", "restore", "migrate_to_postgresql", "raw_log_read"):
        assert report["figures"][name]["events_per_second"] > 0
    assert report["ratios"]["restore_vs_raw_log_read"] > 0
    assert report["ratios"]["migrate_vs_raw_log_read"] > 0


def test_the_search_benchmark_runs_on_both_engines_and_reports_ratios():
    from tests.conftest import require_postgres

    require_postgres()
    report = benchmark_report("search", "--statements", "200", "--samples", "10")
    for engine in ("sqlite", "postgresql"):
        figures = report["figures"][engine]
        assert figures["statements"] == 200
        assert figures["search_ms"]["median"] > 0
        assert figures["search_ms"]["p99"] >= figures["search_ms"]["median"]
        common = next(iter(figures["matches_per_query"].values()))
        assert common > 0  # the commonest word is found
        assert report["ratios"][f"{engine}_search_median_vs_catalogue_page"] > 0


def test_the_writes_benchmark_runs_and_reports_ratios():
    from tests.conftest import require_program

    require_program("wrk", "wrk")
    report = benchmark_report(
        "writes", "--statements", "200", "--runs", "1", "--seconds", "1"
    )
    assert report["figures"]["create_server_cpu_ms"]["median"] > 0
    assert report["figures"]["create_latency_ms_1_connection"]["median"] > 0
    assert report["ratios"]["create_cpu_vs_raw_save_cpu"] > 0
    assert report["ratios"]["import_vs_raw_batch"] > 0
