"""The public side on PostgreSQL: the same views and feeds as on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
import pytest

from pressfeed.application import NewStatement
from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path, postgres_url):
    return make_settings(tmp_path, postgres_url)


def test_feeds_pages_and_archive_on_postgresql(client, publisher, services):
    statements = [
        NewStatement(
            title=f"Archive {i:02d}",
            body="Text",
            kind="news",
            tags=["archive"],
            published_at=datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=i),
        )
        for i in range(55)
    ]
    services.press_office.import_statements(statements, actor="import")
    created = client.post(
        "/api/statements",
        json={"title": "Fresh news", "body": "Original text", "kind": "speech"},
        headers=publisher,
    ).get_json()
    client.post(
        f"/api/statements/{created['id']}/retraction",
        json={"reason": "Published in error"},
        headers={**publisher, "If-Match": f'"{created["version"]}"'},
    )
    head = services.press_office.recorder.max_notification_id()
    assert services.worker.wait_until(head, timeout=10)

    atom = feedparser.parse(client.get("/feeds/all.atom").data)
    assert atom.bozo == 0 and len(atom.entries) == 50
    assert atom.entries[0].title == "Withdrawn: Fresh news"
    assert b"deleted-entry" in client.get("/feeds/kind/speech.atom").data
    archive = feedparser.parse(client.get("/feeds/archive/1.atom").data)
    assert [e.title for e in archive.entries] == [f"Archive {i:02d}" for i in range(50)]
    assert (
        len(feedparser.parse(client.get("/feeds/tag/archive.rss").data).entries) == 50
    )
    assert client.get(f"/statements/{created['slug']}").status_code == 410
    assert client.get("/statements/archive-07").status_code == 200
    assert client.get("/messages?page=3").status_code == 200
    changes = feedparser.parse(client.get("/feeds/changes.atom").data)
    assert changes.entries[0].title == "Withdrawn: Fresh news"
