"""WebSub: which feeds changed, kept in an outbox written with the views (so a
crash loses no ping), and the sender that tells each hub, retrying failures."""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from pressfeed.projections.base import BatchOutcome, Change, ReadModel, View
from pressfeed.projections.changes import public_change
from pressfeed.storage import Dialect

log = logging.getLogger(__name__)

TABLE = "pf_websub_outbox"
FORMATS = ("atom", "rss", "json")


def feed_paths_of(change: Change) -> list[str]:
    """The feeds a public change shows in (before and after, for kind and tags)."""
    statements = [s for s in (change.before, change.after) if s is not None]
    kinds = {s.kind for s in statements}
    tags = {t for s in statements for t in s.tags}
    paths = [f"/feeds/all.{f}" for f in FORMATS] + ["/feeds/changes.atom"]
    paths += [f"/feeds/kind/{k}.{f}" for k in sorted(kinds) for f in FORMATS]
    paths += [
        f"/feeds/tag/{urllib.parse.quote(t)}.{f}" for t in sorted(tags) for f in FORMATS
    ]
    return paths


class WebSubOutboxView(View):
    tables = (TABLE,)

    def create_statements(self, dialect: Dialect) -> list[str]:
        d = dialect
        return [
            d.sql(
                "CREATE TABLE IF NOT EXISTS {t} (path TEXT PRIMARY KEY, "
                f"attempts INTEGER NOT NULL, due_us {d.bigint} NOT NULL)",
                t=TABLE,
            )
        ]

    def apply_final(self, cursor: Any, dialect: Dialect, batch: BatchOutcome) -> None:
        """Every feed that a public change of the batch shows in, once."""
        paths = {
            path
            for change in batch.changes
            if public_change(change) is not None
            for path in feed_paths_of(change)
        }
        if not paths:
            return
        cursor.executemany(
            dialect.sql(
                "INSERT INTO {t} (path, attempts, due_us) VALUES (?, 0, 0) "
                "ON CONFLICT (path) DO UPDATE SET attempts = 0, due_us = 0",
                t=TABLE,
            ),
            [(path,) for path in sorted(paths)],
        )


class HubPinger:
    """Sends hub.mode=publish for each feed in the outbox; backs off on failure."""

    def __init__(
        self, views: ReadModel, hubs: Sequence[str], base_url: str, timeout: float = 5.0
    ) -> None:
        self.views, self.hubs, self.base_url, self.timeout = (
            views,
            hubs,
            base_url,
            timeout,
        )

    def send_due(self, now_us: int | None = None) -> int:
        """Pings every hub for every due feed; returns how many feeds were sent."""
        now_us = now_us if now_us is not None else int(time.time() * 1_000_000)
        rows = self.views.query(
            "SELECT path, attempts FROM {t} WHERE due_us <= ? ORDER BY path LIMIT 200",
            [now_us],
            t=TABLE,
        )
        sent = 0
        for row in rows:
            if self._ping_all(row["path"]):
                self.views.execute(
                    "DELETE FROM {t} WHERE path = ?", [row["path"]], t=TABLE
                )
                sent += 1
            else:
                attempts = row["attempts"] + 1
                delay_us = min(2**attempts, 3600) * 1_000_000
                self.views.execute(
                    "UPDATE {t} SET attempts = ?, due_us = ? WHERE path = ?",
                    [attempts, now_us + delay_us, row["path"]],
                    t=TABLE,
                )
        return sent

    def _ping_all(self, path: str) -> bool:
        feed_url = f"{self.base_url}{path}"
        ok = True
        for hub in self.hubs:
            data = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": feed_url})
            request = urllib.request.Request(hub, data=data.encode(), method="POST")
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    ok &= 200 <= response.status < 300
            except (urllib.error.URLError, OSError) as error:
                log.warning("WebSub hub %s refused %s: %s", hub, feed_url, error)
                ok = False
        return ok
