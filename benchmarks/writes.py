"""The write path's figures alone (a part of `make bench`, quicker): creates
from one connection (median latency, server CPU per create) through gunicorn
without a projection worker (the write path alone) and through `pressfeed
serve` (its projection worker included), against a bare eventsourcing save's
CPU; and `pressfeed import` against batched bare saves; each ratio measured in
the same run.

    .venv/bin/python -m benchmarks.writes [--statements 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchmarks.bench import (
    http_create_figures,
    import_file,
    imports_per_second,
    raw_save_cpu_ms,
    raw_saves_per_second,
    settings_for,
    stats,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statements", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    args = parser.parse_args()
    creates, serve_creates, raw_cpu, imports, raw_batches = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lines = import_file(root, args.statements)
        for _ in range(args.runs):  # interleaved, so that drift touches each alike
            creates.append(
                http_create_figures(
                    Path(tempfile.mkdtemp(dir=root)), args.seconds, web_only=True
                )
            )
            serve_creates.append(
                http_create_figures(Path(tempfile.mkdtemp(dir=root)), args.seconds)
            )
            raw_cpu.append(raw_save_cpu_ms(300))
            with tempfile.TemporaryDirectory(dir=root) as directory:
                imports.append(
                    imports_per_second(
                        settings_for(Path(directory)), lines, args.statements
                    )
                )
            raw_batches.append(raw_saves_per_second(args.statements, 1000))
    figures = {
        "create_latency_ms_1_connection": stats([c["p50_ms"] for c in creates]),
        "create_server_cpu_ms": stats([c["cpu_ms"] for c in creates]),
        "create_latency_ms_1_connection_serve": stats(
            [c["p50_ms"] for c in serve_creates]
        ),
        "create_serve_cpu_ms": stats([c["cpu_ms"] for c in serve_creates]),
        "raw_save_cpu_ms": stats(raw_cpu),
        "import_per_s": stats(imports),
        "raw_batch_save_per_s": stats(raw_batches),
    }
    ratios = {
        "create_cpu_vs_raw_save_cpu": round(
            figures["create_server_cpu_ms"]["median"]
            / figures["raw_save_cpu_ms"]["median"],
            3,
        ),
        "import_vs_raw_batch": round(
            figures["import_per_s"]["median"]
            / figures["raw_batch_save_per_s"]["median"],
            3,
        ),
    }
    print(json.dumps({"ratios": ratios, "figures": figures, "sizes": vars(args)}))


if __name__ == "__main__":
    main()
