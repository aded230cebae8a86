"""The benchmarks still run (on a tiny size): they are measured, not tested, but
must not rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_the_export_memory_benchmark_runs_and_reports_a_ratio():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.export_memory",
         "--events", "300", "--baseline", "30", "--runs", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["figures"]["export_large"]["events"] >= 297
    assert report["ratios"]["export_rss_large_vs_small"] > 0


def test_the_scale_out_benchmark_runs(tmp_path):
    from tests.conftest import require_postgres

    require_postgres()
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale_out", "--lag-samples", "3", "--creates", "16"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["sqlite_serve"]["creates_per_second"] > 0
    assert report["postgres_gunicorn_w4_worker"]["lag_ms"]["median"] > 0
