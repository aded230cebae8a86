"""An amendment reaches the feeds of a running `pressfeed serve` within a second."""

from __future__ import annotations

import statistics
import time

import requests

from tests.helpers import Server, create_token


def test_an_amendment_reaches_the_atom_feed_within_one_second(sqlite_settings):
    headers = {"Authorization": f"Bearer {create_token(sqlite_settings)}"}
    server = Server(sqlite_settings)
    delays = []
    try:
        statement = requests.post(
            f"{server.url}/api/statements",
            json={"title": "Version 0", "body": "Text", "kind": "news"},
            headers=headers,
            timeout=5,
        ).json()
        for n in range(1, 11):
            response = requests.post(
                f"{server.url}/api/statements/{statement['id']}/amendments",
                json={"title": f"Version {n}", "change_note": f"Change {n}"},
                headers={**headers, "If-Match": f'"{statement["version"]}"'},
                timeout=5,
            )
            statement = response.json()
            started = time.monotonic()
            while (
                f"Version {n}<".encode()
                not in requests.get(f"{server.url}/feeds/all.atom", timeout=5).content
            ):
                assert time.monotonic() - started < 1.0, (
                    f"amendment {n} not in the feed after 1 s"
                )
                time.sleep(0.005)
            delays.append(time.monotonic() - started)
    finally:
        server.stop()
    print(
        f"amendment to feed: median {statistics.median(delays) * 1000:.0f} ms, "
        f"max {max(delays) * 1000:.0f} ms over {len(delays)}"
    )
    assert max(delays) < 1.0
