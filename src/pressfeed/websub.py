"""WebSub: tells each hub (hub.mode=publish) about every feed the outbox names,
in every registered feed format, and retries refused pings with back-off."""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import replace

from pressfeed.projections.base import ReadModel
from pressfeed.projections.websub import CHANGES, due_feeds, mark_sent, postpone
from pressfeed.syndication import FEED_FORMATS
from pressfeed.urls import (
    FeedScope,
    absolute,
    changes_feed_path,
    feed_path,
    site_language,
)

log = logging.getLogger(__name__)


def feed_urls(
    feed: FeedScope, base_url: str, other_languages: tuple[str, ...] = ()
) -> list[str]:
    """The URLs of a feed: one per registered format (the changes feed is Atom),
    at the root for the default language, under /<lang>/ for another."""
    feed = replace(feed, language=site_language(feed.language, other_languages))
    if feed.what == CHANGES:
        return [absolute(base_url, changes_feed_path(feed.language))]
    return [absolute(base_url, feed_path(feed, ext)) for ext in sorted(FEED_FORMATS)]


class HubPinger:
    """Sends hub.mode=publish for each due feed; backs off on failure."""

    def __init__(
        self,
        views: ReadModel,
        hubs: Sequence[str],
        base_url: str,
        timeout: float = 5.0,
        other_languages: tuple[str, ...] = (),
    ) -> None:
        self.views = views
        self.other_languages = other_languages
        self.hubs = hubs
        self.base_url = base_url
        self.timeout = timeout

    def send_due(self, now_us: int | None = None) -> int:
        """Pings every hub for every due feed; returns how many feeds were sent."""
        now_us = now_us if now_us is not None else int(time.time() * 1_000_000)
        sent = 0
        for row in due_feeds(self.views, now_us):
            feed = FeedScope(row["what"], row["value"], row["language"])
            urls = feed_urls(feed, self.base_url, self.other_languages)
            if all([self._ping_all(url) for url in urls]):
                mark_sent(self.views, feed)
                sent += 1
            else:
                attempts = row["attempts"] + 1
                delay_us = min(2**attempts, 3600) * 1_000_000
                postpone(self.views, feed, attempts, now_us + delay_us)
        return sent

    def _ping_all(self, feed_url: str) -> bool:
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
