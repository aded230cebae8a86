"""schemathesis fuzzes every operation of /api/openapi.json against a live
`pressfeed serve` (its default checks: no 5xx, responses that conform to the
schema, documented status codes and content types, invalid data refused, valid
data accepted), through its own command line. tests/data/schemathesis.toml says
which answers a rule the schema cannot express may give."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import Server, create_token

CONFIG = Path(__file__).parent / "data" / "schemathesis.toml"
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


def test_schemathesis_finds_no_failure_in_any_operation(sqlite_settings, tmp_path):
    token = create_token(sqlite_settings)
    server = Server(sqlite_settings, PRESSFEED_AUTH_FAILURES_PER_MINUTE="100000")
    report = Path(os.environ.get("PRESSFEED_FUZZ_LOG", tmp_path / "schemathesis.log"))
    try:
        with report.open("w") as output:
            result = subprocess.run(
                [
                    SCHEMATHESIS,
                    "--config-file",
                    str(CONFIG),
                    "run",
                    f"{server.url}/api/openapi.json",
                    "--header",
                    f"Authorization: Bearer {token}",
                    "--max-examples",
                    os.environ.get("PRESSFEED_FUZZ_EXAMPLES", "50"),
                    "--seed",
                    os.environ.get("PRESSFEED_FUZZ_SEED", "1"),
                    "--request-timeout",
                    "30",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=600,
                cwd=tmp_path,  # its cache (.schemathesis/) stays out of the checkout
            )
    finally:
        server.stop()
    text = report.read_text(errors="replace")
    summary = text[text.rfind("SUMMARY") :] if "SUMMARY" in text else text[-3000:]
    assert result.returncode == 0, summary[:6000]
    assert "Selected: 13/13" in text and "Tested: 13" in text
