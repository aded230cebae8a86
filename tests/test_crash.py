"""Crashes: kill -9 of `pressfeed serve` while commands stream in loses no accepted
command, and the views it left equal a fresh rebuild after a restart."""

from __future__ import annotations

import threading
import time

import requests

from pressfeed.projections import open_views
from tests.helpers import Server, create_token, run_cli

VIEW_TABLES = {
    "pf_catalogue": "id",
    "pf_catalogue_tags": "statement_id, tag",
    "pf_public_changes": "position",
    "pf_archive": "seq",
}


def view_contents(settings) -> dict[str, list[tuple]]:
    views = open_views(settings)
    return {
        table: [
            tuple(row)
            for row in views.query(f"SELECT * FROM {{t}} ORDER BY {order}", t=table)
        ]
        for table, order in VIEW_TABLES.items()
    }


def stream_commands(
    url: str, headers: dict, accepted: list[str], stop: threading.Event
) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        try:
            response = requests.post(
                f"{url}/api/statements",
                json={
                    "title": f"Streamed {n}",
                    "body": f"Body {n}",
                    "kind": "news",
                    "tags": [f"t{n % 3}"],
                },
                headers=headers,
                timeout=5,
            )
        except requests.RequestException:
            return
        if response.status_code != 201:
            return
        accepted.append(response.json()["id"])
        if n % 4 == 0:
            statement = response.json()
            try:
                requests.post(
                    f"{url}/api/statements/{statement['id']}/amendments",
                    json={"body": f"Amended {n}", "change_note": "More"},
                    headers={**headers, "If-Match": f'"{statement["version"]}"'},
                    timeout=5,
                )
            except requests.RequestException:
                return


def test_kill_9_while_commands_stream_in_then_restart(sqlite_settings):
    headers = {"Authorization": f"Bearer {create_token(sqlite_settings)}"}
    server = Server(sqlite_settings)
    accepted: list[str] = []
    stop = threading.Event()
    writers = [
        threading.Thread(
            target=stream_commands, args=(server.url, headers, accepted, stop)
        )
        for _ in range(3)
    ]
    for writer in writers:
        writer.start()
    time.sleep(2.0)
    server.kill()
    stop.set()
    for writer in writers:
        writer.join()
    assert len(accepted) > 20

    restarted = Server(sqlite_settings)
    try:
        deadline = time.monotonic() + 20
        while requests.get(f"{restarted.url}/healthz", timeout=5).json()[
            "projection_lag"
        ]:
            assert time.monotonic() < deadline, "the views did not catch up"
            time.sleep(0.05)
        listed = requests.get(
            f"{restarted.url}/api/statements?limit=100", headers=headers, timeout=5
        ).json()
        ids = {s["id"] for s in listed["items"]}
        cursor = listed["next_cursor"]
        while cursor:
            page = requests.get(
                f"{restarted.url}/api/statements?limit=100&cursor={cursor}",
                headers=headers,
                timeout=5,
            ).json()
            ids |= {s["id"] for s in page["items"]}
            cursor = page["next_cursor"]
    finally:
        restarted.stop()
    assert set(accepted) <= ids

    after_restart = view_contents(sqlite_settings)
    run_cli(sqlite_settings, "rebuild")
    assert view_contents(sqlite_settings) == after_restart
