"""wrk, the HTTP load generator (Debian's package), run once and read."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def wrk(
    url: str,
    *,
    connections: int,
    seconds: int,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, float]:
    """requests/s, median latency (ms) and requests answered from one wrk run."""
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    run = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    output = run.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise SystemExit(
            f"wrk saw {non_2xx.group(1)} error answers from {url}: {run.stderr[:2000]}"
        )
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    return {"rate": rate, "p50_ms": float(p50.group(1)) * scale, "requests": requests}
