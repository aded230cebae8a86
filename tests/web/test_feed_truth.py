"""Every subscriber learns every correction and withdrawal, whatever the
statement's age; public feeds change only when the public sees a change; one
set of bytes has one set of validators; gzip costs nothing per request."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
import requests
from lxml import etree
from reader import make_reader
from werkzeug.serving import make_server

from pressfeed.application import NewStatement
from pressfeed.web import create_app
from tests.conftest import make_settings
from tests.helpers import Gunicorn, run_cli

ATOM = "{http://www.w3.org/2005/Atom}"
NS = {
    "a": "http://www.w3.org/2005/Atom",
    "fh": "http://purl.org/syndication/history/1.0",
}
TOMBSTONE = "{http://purl.org/atompub/tombstones/1.0}deleted-entry"
PUBLIC_FEEDS = [
    "/feeds/all.atom",
    "/feeds/all.rss",
    "/feeds/all.json",
    "/feeds/kind/news.atom",
    "/feeds/kind/news.rss",
    "/feeds/tag/visas.json",
    "/feeds/changes.atom",
]


def import_statements(services, count: int) -> list:
    """count statements published one day apart, the oldest first."""
    start = datetime(2019, 1, 1, tzinfo=UTC)
    statements = services.press_office.import_statements(
        [
            NewStatement(
                title=f"Statement {n}",
                body=f"Original wording number {n} of the embassy.",
                kind="news",
                tags=["visas"],
                published_at=start + timedelta(days=n),
            )
            for n in range(count)
        ],
        actor="import",
    )
    return statements


@pytest.fixture
def site(services, desk) -> Iterator[str]:
    """The app served over real HTTP, as feed readers reach it."""
    server = make_server("127.0.0.1", 0, create_app(services=services), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def entry_text(entry) -> str:
    parts = [entry.title or "", entry.summary or ""]
    parts += [content.value for content in entry.content]
    return "\n".join(parts)


def test_a_feed_reader_learns_corrections_and_withdrawals_of_old_statements(
    services, desk, client, publisher, site, tmp_path
):
    statements = import_statements(services, 120)
    desk.settle()
    feeds = [f"{site}/feeds/all.{ext}" for ext in ("atom", "rss", "json")]
    reader = make_reader(str(tmp_path / "reader.sqlite"))
    for url in feeds:
        reader.add_feed(url)
    reader.update_feeds(scheduled=False)
    oldest, second = statements[0], statements[1]

    current = client.get(f"/api/statements/{oldest.id}", headers=publisher).get_json()
    desk.amend(current, "Corrected the figures", body="Amended wording, figures fixed.")
    current = client.get(f"/api/statements/{second.id}", headers=publisher).get_json()
    desk.retract(current, "Issued in error")
    reader.update_feeds(scheduled=False)

    for url in feeds:
        amended = reader.get_entry((url, f"urn:uuid:{oldest.id}"))
        assert "Amended wording, figures fixed." in entry_text(amended), url
        withdrawn = reader.get_entry((url, f"urn:uuid:{second.id}"))
        assert "Original wording number 1 " not in entry_text(withdrawn), url
        assert "withdrawn" in entry_text(withdrawn).lower(), url
        assert reader.get_feed(url).link == "http://localhost/messages", url
    reader.close()


def test_corrections_and_withdrawals_come_back_to_the_top_of_every_feed(
    services, desk, client, publisher
):
    statements = import_statements(services, 60)
    desk.settle()
    oldest = client.get(f"/api/statements/{statements[0].id}", headers=publisher)
    desk.amend(oldest.get_json(), "Figures", body="Corrected text.")
    second = client.get(f"/api/statements/{statements[1].id}", headers=publisher)
    desk.retract(second.get_json(), "In error")
    for path in ("/feeds/all.rss", "/feeds/kind/news.atom", "/feeds/tag/visas.json"):
        data = client.get(path).data
        if path.endswith(".json"):
            ids = [item["id"] for item in json.loads(data)["items"]]
        else:
            ids = [e.id for e in feedparser.parse(data).entries]
        assert ids[:2] == [f"urn:uuid:{s.id}" for s in (statements[1], statements[0])]
        assert len(ids) == 50, path


def test_a_tombstone_leaves_the_feeds_own_link_alone(desk, client):
    statement = desk.create(title="Reception", body="Cancelled.")
    desk.retract(statement, "Called off")
    data = client.get("/feeds/all.atom").data
    tombstones = etree.fromstring(data).findall(TOMBSTONE)
    assert len(tombstones) == 1
    assert tombstones[0].find(f"{ATOM}link") is None
    assert feedparser.parse(data).feed.link == "http://localhost/messages"


def test_the_changes_feed_rewrites_and_tombstones_what_a_withdrawal_takes_back(
    desk, client
):
    statement = desk.create(title="Visa fees", body="Fees rise by ten euros.")
    amended = desk.amend(statement, "Corrected", body="Fees rise by twelve euros.")
    before = feedparser.parse(client.get("/feeds/changes.atom").data)
    earlier = {e.id: e.updated for e in before.entries}
    withdrawn = desk.retract(amended, "Decision postponed")
    data = client.get("/feeds/changes.atom").data
    after = feedparser.parse(data)
    for entry in after.entries:
        assert "euros" not in entry.summary
        if entry.id in earlier:
            assert entry.updated != earlier[entry.id]
            assert (
                entry.updated_parsed
                == feedparser.parse(
                    f"<feed xmlns='http://www.w3.org/2005/Atom'><updated>"
                    f"{withdrawn['retracted_at']}</updated></feed>"
                ).feed.updated_parsed
            )
    refs = {t.get("ref") for t in etree.fromstring(data).findall(TOMBSTONE)}
    assert refs == set(earlier)


def test_private_work_leaves_every_public_feed_and_page_unchanged(
    desk, client, publisher
):
    published = desk.create(title="Visa hours", body="Nine to five.", tags=["visas"])
    pages = [*PUBLIC_FEEDS, "/messages", f"/statements/{published['slug']}"]
    before = {path: client.get(path) for path in pages}
    desk.create(title="Draft", body="Not yet.", draft=True)
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    scheduled = desk.create(title="Embargoed", body="Soon.", publish_at=later)
    client.delete(f"/api/statements/{scheduled['id']}/schedule", headers=publisher)
    desk.settle()
    for path in pages:
        after = client.get(path)
        assert after.data == before[path].data, path
        assert after.headers["ETag"] == before[path].headers["ETag"], path
        assert after.headers["Last-Modified"] == before[path].headers["Last-Modified"]


def test_gzip_is_the_same_bytes_with_its_own_etag_and_304(desk, client):
    for n in range(5):
        desk.create(title=f"Statement {n}", body="Text. " * 200, tags=["visas"])
    for path in (*PUBLIC_FEEDS, "/messages"):
        plain = client.get(path)
        coded = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert coded.headers["Content-Encoding"] == "gzip", path
        assert gzip.decompress(coded.data) == plain.data, path
        assert "Accept-Encoding" in coded.headers["Vary"]
        assert coded.headers["ETag"] != plain.headers["ETag"]
        again = client.get(
            path,
            headers={"Accept-Encoding": "gzip", "If-None-Match": coded.headers["ETag"]},
        )
        assert again.status_code == 304, path
        assert "Content-Encoding" not in again.headers


def test_archive_pages_keep_the_text_as_it_stood_and_the_feed_carries_the_change(
    services, desk, client, publisher
):
    statements = import_statements(services, 101)
    desk.settle()
    page = client.get("/feeds/archive/1.atom").data
    oldest = client.get(f"/api/statements/{statements[0].id}", headers=publisher)
    desk.amend(oldest.get_json(), "Figures", body="Corrected text.")
    assert client.get("/feeds/archive/1.atom").data == page
    feed = feedparser.parse(client.get("/feeds/all.atom").data)
    archived = feedparser.parse(page)
    current = next(e for e in feed.entries if e.id == f"urn:uuid:{statements[0].id}")
    old = next(e for e in archived.entries if e.id == current.id)
    assert "Corrected text." in current.content[0].value
    assert current.updated_parsed > old.updated_parsed


def test_every_web_process_gives_one_feed_the_same_validators(tmp_path):
    settings = make_settings(tmp_path)
    run_cli(settings, "demo")
    run_cli(settings, "rebuild")
    web = Gunicorn(settings, "-w", "2")
    try:
        url = f"{web.url}/feeds/all.atom"
        deadline = time.monotonic() + 10  # the newest version may be dated ahead
        while "Last-Modified" not in requests.get(url, timeout=10).headers:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        answers = []
        for _ in range(3):
            answers += [requests.get(url, timeout=10) for _ in range(8)]
            time.sleep(1.1)  # a process first serving later dated it later, before
        validators = {(a.headers["ETag"], a.headers["Last-Modified"]) for a in answers}
        assert len(validators) == 1
        etag, modified = validators.pop()
        for _ in range(8):
            assert (
                requests.get(
                    url, headers={"If-None-Match": etag}, timeout=10
                ).status_code
                == 304
            )
            assert (
                requests.get(
                    url, headers={"If-Modified-Since": modified}, timeout=10
                ).status_code
                == 304
            )
    finally:
        web.stop()


def start_of_a_second() -> None:
    """Waits for the next second to begin, so two changes fall into one."""
    now = time.time()
    time.sleep(int(now) + 1.05 - now)


@pytest.mark.parametrize("path", ["/feeds/all.atom", "/feeds/changes.atom", "/"])
def test_two_statements_in_one_second_never_share_a_dated_304(client, desk, path):
    start_of_a_second()
    desk.create(title="Alpha")
    first = client.get(path)
    desk.create(title="Beta")
    second = client.get(path)
    assert second.data != first.data
    again = client.get(
        path, headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert again.status_code == 200


def test_a_statement_leaving_a_kind_feed_moves_its_date_forward(client, desk):
    desk.create(title="Alpha")
    beta = desk.create(title="Beta")
    time.sleep(1.1)
    first = client.get("/feeds/kind/news.atom")
    desk.amend(beta, "Reclassified", kind="interview")
    second = client.get("/feeds/kind/news.atom")
    assert second.data != first.data
    since = first.headers["Last-Modified"]
    assert (
        client.get(
            "/feeds/kind/news.atom", headers={"If-Modified-Since": since}
        ).status_code
        == 200
    )


def test_a_304_only_answers_the_tag_of_the_coding_chosen(client, desk):
    statement = desk.create(title="Alpha", body="word " * 400)
    plain = client.get("/feeds/all.atom")
    asked = {"If-None-Match": plain.headers["ETag"], "Accept-Encoding": "gzip"}
    answer = client.get("/feeds/all.atom", headers=asked)
    assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "gzip"
    page = client.get(
        f"/statements/{statement['slug']}", headers={"Accept-Encoding": "gzip"}
    )
    assert {"Accept-Encoding", "Accept-Datetime"} <= set(page.vary)


def test_a_reader_away_during_a_burst_of_corrections_finds_every_one(
    client, desk, services
):
    """More corrections than a feed holds came while the reader was away: the
    changes feed links its RFC 5005 archive, where the reader finds the rest."""
    statements = [
        desk.create(title=f"Notice {n}", body="First wording.") for n in range(10)
    ]
    seen = {
        e.id for e in feedparser.parse(client.get("/feeds/changes.atom").data).entries
    }
    assert len(seen) == 10
    for round_ in range(7):
        statements = [
            desk.amend(
                s, f"Correction {round_} of {s['title']}", body=f"Wording {round_}."
            )
            for s in statements
        ]
    found, path = {}, "/feeds/changes.atom"
    while path:  # back through the archive until the reader meets what it saw
        feed = feedparser.parse(client.get(path).data)
        assert not feed.bozo, path
        found |= {e.id: e.title for e in feed.entries}
        links = [link.href for link in feed.feed.links if link.rel == "prev-archive"]
        path = links[0].removeprefix("http://localhost") if links else None
        if seen <= found.keys():
            break
    corrections = {i for i, title in found.items() if title.startswith("Amended:")}
    assert len(corrections) == 70
    subscription = feedparser.parse(client.get("/feeds/changes.atom").data)
    assert len(subscription.entries) < 80  # the archive was needed


def test_change_archive_pages_are_closed_linked_and_dated(client, desk):
    statement = desk.create(title="Visa hours", body="Wording 0.")
    for n in range(1, 101):
        statement = desk.amend(statement, f"Correction {n}", body=f"Wording {n}.")
    current = etree.fromstring(client.get("/feeds/changes.atom").data)
    prev = current.xpath("a:link[@rel='prev-archive']/@href", namespaces=NS)
    assert prev == ["http://localhost/feeds/changes/archive/2.atom"]
    page1 = etree.fromstring(client.get("/feeds/changes/archive/1.atom").data)
    assert page1.find("fh:archive", NS) is not None
    assert page1.xpath("a:link[@rel='next-archive']/@href", namespaces=NS) == [
        "http://localhost/feeds/changes/archive/2.atom"
    ]
    assert page1.xpath("a:link[@rel='current']/@href", namespaces=NS) == [
        "http://localhost/feeds/changes.atom"
    ]
    titles = page1.xpath("a:entry/a:title/text()", namespaces=NS)
    assert titles[0] == "Amended: Visa hours" and titles[-1] == "Published: Visa hours"
    assert len(titles) == 50
    for missing in (0, 3):
        assert client.get(f"/feeds/changes/archive/{missing}.atom").status_code == 404
    withdrawn = desk.retract(statement)
    rewritten = client.get("/feeds/changes/archive/1.atom")
    assert "Wording 1." not in rewritten.get_data(as_text=True)
    assert withdrawn["retracted_at"][:19] in rewritten.get_data(as_text=True)
