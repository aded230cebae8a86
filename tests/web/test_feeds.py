"""The feeds, read as feed readers read them (feedparser) and checked against
RFC 4287, RSS 2.0, RFC 6721, RFC 5005 and JSON Feed 1.1."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import jsonschema
import lxml.html
import pytest
from lxml import etree

from pressfeed.application import NewStatement
from pressfeed.urls import TAG, FeedScope, feed_path
from pressfeed.web.context import RENDERED_CACHE

NS = {
    "a": "http://www.w3.org/2005/Atom",
    "at": "http://purl.org/atompub/tombstones/1.0",
    "fh": "http://purl.org/syndication/history/1.0",
}
FEEDS = ["/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json"]
JSON_FEED_SCHEMA = json.loads(
    (Path(__file__).parent.parent / "data" / "jsonfeed-1.1.schema.json").read_text()
)


@pytest.fixture
def settings(sqlite_settings):
    """Feeds are tested on SQLite; tests/test_postgres_public.py runs them on PostgreSQL."""
    return sqlite_settings


def read(client, path: str):
    """What a feed reader sees: the parsed feed, with bozo checked."""
    response = client.get(path)
    assert response.status_code == 200, path
    parsed = feedparser.parse(response.data)
    assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
    return parsed


def atom_tree(client, path="/feeds/all.atom"):
    return etree.fromstring(client.get(path).data)


def test_every_feed_parses_cleanly_with_correct_media_types(client, desk):
    desk.create(tags=["trade"])
    types = {
        "/feeds/all.atom": "application/atom+xml; charset=utf-8",
        "/feeds/all.rss": "application/rss+xml; charset=utf-8",
        "/feeds/all.json": "application/feed+json",
        "/feeds/kind/news.atom": "application/atom+xml; charset=utf-8",
        "/feeds/tag/trade.rss": "application/rss+xml; charset=utf-8",
        "/feeds/changes.atom": "application/atom+xml; charset=utf-8",
    }
    for path, media_type in types.items():
        response = client.get(path)
        assert response.headers["Content-Type"] == media_type
        if not path.endswith(".json"):
            assert len(read(client, path).entries) == 1


def test_entry_ids_are_stable_and_updated_moves_only_on_a_major_amendment(client, desk):
    statement = desk.create()
    before = read(client, "/feeds/all.atom").entries[0]
    assert before.id == f"urn:uuid:{statement['id']}"
    statement = desk.amend(statement, "Typo", minor=True, body="We will **attend** it.")
    minor = read(client, "/feeds/all.atom").entries[0]
    assert minor.id == before.id
    assert minor.updated == before.updated
    assert "attend</strong> it" in minor.content[0].value
    desk.amend(statement, "Added the dates", title="Trade fair in Lyon, 3-5 June")
    major = read(client, "/feeds/all.atom").entries[0]
    assert major.id == before.id
    assert datetime.fromisoformat(major.updated) > datetime.fromisoformat(
        before.updated
    )
    assert major.published == before.published
    assert "Added the dates" in major.content[0].value
    assert "Typo" not in major.content[0].value
    rss_item = read(client, "/feeds/all.rss").entries[0]
    assert rss_item.id == before.id
    # RSS's pubDate is the first publication; atom:updated the correction.
    assert rss_item.published_parsed == major.published_parsed
    assert rss_item.updated == major.updated


def test_a_retraction_is_a_notice_in_rss_and_json_and_a_tombstone_in_atom(client, desk):
    statement = desk.create(body="The secret original text.")
    desk.retract(statement, reason="Concerned a different region")
    for path in FEEDS:
        body = client.get(path).get_data(as_text=True)
        assert "The secret original text" not in body, path
        assert f"urn:uuid:{statement['id']}" in body, path
        assert "Concerned a different region" in body, path
    rss = read(client, "/feeds/all.rss").entries[0]
    assert rss.title.startswith("Withdrawn: ")
    item = json.loads(client.get("/feeds/all.json").data)["items"][0]
    assert item["id"] == f"urn:uuid:{statement['id']}"
    assert item["title"].startswith("Withdrawn: ")
    tree = atom_tree(client)
    tombstones = tree.findall("at:deleted-entry", NS)
    assert len(tombstones) == 1
    assert tombstones[0].get("ref") == f"urn:uuid:{statement['id']}"
    when = datetime.fromisoformat(tombstones[0].get("when"))
    assert (
        tombstones[0].findtext("at:comment", namespaces=NS)
        == "Concerned a different region"
    )
    entry = tree.find("a:entry", NS)
    assert datetime.fromisoformat(entry.findtext("a:updated", namespaces=NS)) == when


def test_tombstones_are_scoped_to_their_feeds(client, desk):
    speech = desk.create(kind="speech", tags=["culture"])
    desk.retract(speech)
    assert atom_tree(client, "/feeds/kind/speech.atom").findall("at:deleted-entry", NS)
    assert atom_tree(client, "/feeds/tag/culture.atom").findall("at:deleted-entry", NS)
    assert not atom_tree(client, "/feeds/kind/news.atom").findall(
        "at:deleted-entry", NS
    )


def test_kind_and_tag_feeds_filter(client, desk):
    desk.create(title="A speech", kind="speech", tags=["culture"])
    desk.create(title="A news item", tags=["trade"])
    assert [e.title for e in read(client, "/feeds/kind/speech.atom").entries] == [
        "A speech"
    ]
    assert [e.title for e in read(client, "/feeds/tag/trade.rss").entries] == [
        "A news item"
    ]
    assert read(client, "/feeds/tag/unused.atom").entries == []
    assert client.get("/feeds/kind/tweet.atom").status_code == 404
    assert client.get("/feeds/all.xml").status_code == 404


def test_a_kind_feed_links_its_own_list_of_messages(client, desk):
    desk.create(title="A speech", kind="speech", tags=["culture"])
    speech = read(client, "/feeds/kind/speech.atom").feed.link
    assert speech.endswith("/messages?kind=speech")
    listed = client.get(speech.removeprefix("http://localhost"))
    assert listed.status_code == 200 and b"A speech" in listed.data
    assert read(client, "/feeds/tag/culture.rss").feed.link.endswith("/messages")
    assert read(client, "/feeds/all.atom").feed.link.endswith("/messages")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("İstanbul", "i\u0307stanbul"),  # casefolded: i and a combining dot
        ("e\u0301te", "\u00e9te"),  # composed (NFC)
        ("Straße", "strasse"),  # casefolded
        ("भारत", "भारत"),  # Devanagari: a vowel sign is a mark, not a letter
        ("covid-19_aid", "covid-19_aid"),
    ],
)
def test_every_accepted_tag_is_normalised_and_its_feed_answers(
    client, desk, given, stored
):
    statement = desk.create(title="Tagged", tags=[given, stored.upper()])
    assert statement["tags"] == [stored]
    for extension in ("atom", "rss"):
        feed = read(client, feed_path(FeedScope(TAG, stored), extension))
        assert [e.title for e in feed.entries] == ["Tagged"]
    json_feed = client.get(feed_path(FeedScope(TAG, stored), "json")).get_json()
    assert [item["title"] for item in json_feed["items"]] == ["Tagged"]
    page = client.get(f"/statements/{statement['slug']}").get_data(as_text=True)
    link = lxml.html.fromstring(page).xpath("//a[@class='tag']/@href")
    assert link == [feed_path(FeedScope(TAG, stored), "atom")]
    assert client.get(link[0]).status_code == 200


@pytest.mark.parametrize(
    "tag", ["ab\u200dcd", "\u0301a", "_a", "-a", "a b", "a\u00adb", "x" * 51]
)
def test_tags_the_feed_routes_could_not_serve_are_422(client, desk, tag):
    response = client.post(
        "/api/statements",
        json={"title": "t", "body": "b", "kind": "news", "tags": [tag]},
        headers=desk.headers,
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["type"].endswith("/invalid-fields")


def test_drafts_and_scheduled_statements_are_in_no_feed(client, desk):
    desk.create(title="Draft", draft=True)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    desk.create(title="Embargoed", publish_at=later)
    for path in [*FEEDS, "/feeds/changes.atom"]:
        body = client.get(path).get_data(as_text=True)
        assert "Draft" not in body and "Embargoed" not in body, path


def test_atom_has_what_rfc_4287_requires(client, desk):
    desk.create(tags=["trade"])
    desk.create(title="Second")
    for path in [
        "/feeds/all.atom",
        "/feeds/kind/news.atom",
        "/feeds/tag/trade.atom",
        "/feeds/changes.atom",
    ]:
        tree = atom_tree(client, path)
        assert tree.tag == "{http://www.w3.org/2005/Atom}feed"
        assert tree.findtext("a:id", namespaces=NS)
        assert tree.findtext("a:title", namespaces=NS)
        datetime.fromisoformat(tree.findtext("a:updated", namespaces=NS))
        assert tree.findtext("a:author/a:name", namespaces=NS)
        self_links = tree.xpath("a:link[@rel='self']/@href", namespaces=NS)
        assert self_links == [f"http://localhost{path}"]
        ids = tree.xpath("a:entry/a:id/text()", namespaces=NS)
        assert len(ids) == len(set(ids)) > 0
        for entry in tree.findall("a:entry", NS):
            assert entry.findtext("a:title", namespaces=NS)
            datetime.fromisoformat(entry.findtext("a:updated", namespaces=NS))
            alternate = (
                "a:link[not(@rel) or @rel='alternate']/@href"  # RFC 4287 4.2.7.2
            )
            assert entry.xpath(alternate, namespaces=NS)
            assert entry.find("a:content", NS).get("type") == "html"


def test_rss_has_what_rss_2_requires(client, desk):
    desk.create()
    desk.create(title="Second")
    tree = etree.fromstring(client.get("/feeds/all.rss").data)
    channel = tree.find("channel")
    assert tree.get("version") == "2.0"
    for name in ("title", "link", "description"):
        assert channel.findtext(name)
    assert channel.findtext("link") == "http://localhost/messages"
    assert channel.xpath("a:link[@rel='self']/@href", namespaces=NS) == [
        "http://localhost/feeds/all.rss"
    ]
    parsedate_to_datetime(channel.findtext("lastBuildDate"))
    guids = [item.findtext("guid") for item in channel.findall("item")]
    assert len(guids) == len(set(guids)) == 2
    for item in channel.findall("item"):
        assert item.find("guid").get("isPermaLink") == "false"
        assert parsedate_to_datetime(item.findtext("pubDate")).tzinfo is not None
        assert item.findtext("link").startswith("http://localhost/statements/")


def test_json_feed_matches_the_json_feed_1_1_schema(client, desk):
    statement = desk.create(tags=["trade"])
    desk.retract(desk.create(title="Withdrawn one"))
    feed = json.loads(client.get("/feeds/all.json").data)
    jsonschema.validate(
        feed, JSON_FEED_SCHEMA, format_checker=jsonschema.FormatChecker()
    )
    assert feed["feed_url"] == "http://localhost/feeds/all.json"
    assert any(i["id"] == f"urn:uuid:{statement['id']}" for i in feed["items"])


def forget_rendered_bytes(client) -> None:
    """Empties the app's cache of rendered bytes, as a fresh process has it."""
    cache = client.application.extensions[RENDERED_CACHE]
    client.application.extensions[RENDERED_CACHE] = type(cache)(cache.max_bytes)


def test_unchanged_views_render_identical_bytes_and_answer_conditional_gets(
    client, desk, services
):
    desk.create()
    for path in [*FEEDS, "/feeds/changes.atom", "/", "/messages"]:
        first = client.get(path)
        forget_rendered_bytes(client)
        second = client.get(path)
        if path != "/":
            assert first.data == second.data, path
        etag = second.headers["ETag"]
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304, (
            path
        )
        since = second.headers["Last-Modified"]
        assert (
            client.get(path, headers={"If-Modified-Since": since}).status_code == 304
        ), path
        assert "max-age" in second.headers["Cache-Control"]


def test_an_if_modified_since_from_the_future_is_ignored(client, desk):
    """A reader whose clock runs years ahead would otherwise hold its copy,
    and miss every correction, until that date."""
    desk.create(title="Visa times")
    future = "Fri, 01 Jan 2100 00:00:00 GMT"
    for path in [*FEEDS, "/", "/messages"]:
        response = client.get(path, headers={"If-Modified-Since": future})
        assert response.status_code == 200, path
        assert b"Visa times" in response.data, path


def test_a_change_invalidates_the_cached_feed(client, desk):
    desk.create()
    etag = client.get("/feeds/all.atom").headers["ETag"]
    desk.create(title="Another")
    response = client.get("/feeds/all.atom", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert b"Another" in response.data


def test_the_changes_feed_has_one_entry_per_public_change(client, desk):
    statement = desk.create(title="Visa times", body="Ten days.")
    statement = desk.amend(statement, "Typo", minor=True, body="Ten days!")
    statement = desk.amend(statement, "Processing is faster now", body="Seven days.")
    desk.retract(statement, reason="Superseded by the new rules")
    desk.create(title="Draft", draft=True)
    entries = read(client, "/feeds/changes.atom").entries
    assert [e.title for e in entries] == [
        "Withdrawn: Visa times",
        "Amended: Visa times",
        "Published: Visa times",
    ]
    assert "Superseded by the new rules" in entries[0].content[0].value
    assert len({e.id for e in entries}) == 3
    for entry in entries:
        assert "Seven days" not in entry.content[0].value
        assert "Ten days" not in entry.content[0].value


def test_a_back_dated_import_takes_its_place_in_the_past_of_the_changes_feed(
    client, desk, services
):
    """It does not push the office's latest changes out, nor date the feed
    back: 60 statements of 2020 imported after today's publication."""
    desk.create(title="Published today")
    services.press_office.import_statements(
        [
            NewStatement(
                title=f"Archive {i:03d}",
                body="Old text.",
                kind="news",
                published_at=datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=i),
            )
            for i in range(60)
        ],
        actor="import",
    )
    desk.settle()
    feed = read(client, "/feeds/changes.atom")
    assert feed.entries[0].title == "Published: Published today"
    assert feed.feed.updated_parsed[0] == datetime.now(UTC).year


def test_the_changes_feed_carries_the_note_and_the_diff(client, desk):
    statement = desk.create(title="Visa times", body="Ten days.")
    desk.amend(statement, "Processing is faster now", body="Seven days.")
    amended, published = read(client, "/feeds/changes.atom").entries
    assert amended.title == "Amended: Visa times"
    content = amended.content[0].value
    assert "Processing is faster now" in content
    assert "-Ten days." in content and "+Seven days." in content
    assert published.title == "Published: Visa times"
    content = published.content[0].value
    assert "+# Visa times" in content and "+Ten days." in content
    assert "Seven days" not in content


def test_archive_pages_are_complete_linked_and_closed(client, desk, services):
    statements = [
        NewStatement(
            title=f"Archive {i:03d}",
            body=f"Text {i}",
            kind="news",
            published_at=datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=i),
        )
        for i in range(120)
    ]
    services.press_office.import_statements(statements, actor="import")
    desk.settle()
    current = atom_tree(client)
    assert current.xpath("a:link[@rel='prev-archive']/@href", namespaces=NS) == [
        "http://localhost/feeds/archive/2.atom"
    ]
    page2 = atom_tree(client, "/feeds/archive/2.atom")
    page1 = atom_tree(client, "/feeds/archive/1.atom")
    assert page1.find("fh:archive", NS) is not None
    assert page1.xpath("a:link[@rel='next-archive']/@href", namespaces=NS) == [
        "http://localhost/feeds/archive/2.atom"
    ]
    assert page2.xpath("a:link[@rel='prev-archive']/@href", namespaces=NS) == [
        "http://localhost/feeds/archive/1.atom"
    ]
    assert page2.xpath("a:link[@rel='current']/@href", namespaces=NS) == [
        "http://localhost/feeds/all.atom"
    ]
    titles = [e.title for e in read(client, "/feeds/archive/1.atom").entries]
    titles += [e.title for e in read(client, "/feeds/archive/2.atom").entries]
    assert titles == [f"Archive {i:03d}" for i in range(100)]
    assert client.get("/feeds/archive/3.atom").status_code == 404
    assert client.get("/feeds/archive/0.atom").status_code == 404
    assert "max-age" in client.get("/feeds/archive/1.atom").headers["Cache-Control"]


def test_an_archive_page_that_gains_its_next_link_is_modified_later(
    client, desk, services
):
    """A reader revalidating with If-Modified-Since must get the new link to
    the page closed since, not a 304."""

    def archive(count: int, start: int) -> None:
        services.press_office.import_statements(
            [
                NewStatement(
                    title=f"Archive {i:03d}",
                    body=f"Text {i}",
                    kind="news",
                    published_at=datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=i),
                )
                for i in range(start, start + count)
            ],
            actor="import",
        )
        desk.settle()

    archive(60, 0)  # page 1 closed, no next page yet
    time.sleep(1.1)  # a stamp is not sent before its second has come
    first = client.get("/feeds/archive/1.atom")
    assert b'rel="next-archive"' not in first.data
    time.sleep(1.1)  # Last-Modified is whole seconds
    archive(50, 60)  # page 2 closes: page 1 links it
    time.sleep(1.1)
    again = client.get(
        "/feeds/archive/1.atom",
        headers={"If-Modified-Since": first.headers["Last-Modified"]},
    )
    assert again.status_code == 200 and b'rel="next-archive"' in again.data


def test_a_closed_archive_page_keeps_its_text_but_not_a_retracted_one(
    client, desk, services
):
    statements = [
        NewStatement(
            title=f"Archive {i:02d}",
            body=f"Original {i}",
            kind="news",
            published_at=datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=i),
        )
        for i in range(50)
    ]
    saved = services.press_office.import_statements(statements, actor="import")
    desk.settle()
    before = client.get("/feeds/archive/1.atom").data
    first = desk.client.get(
        f"/api/statements/{saved[0].id}", headers=desk.headers
    ).get_json()
    desk.amend(first, "Later correction", body="Corrected 0")
    assert client.get("/feeds/archive/1.atom").data == before
    second = desk.client.get(
        f"/api/statements/{saved[1].id}", headers=desk.headers
    ).get_json()
    desk.retract(second, reason="Withdrawn for legal reasons")
    after = client.get("/feeds/archive/1.atom").get_data(as_text=True)
    assert "Original 1<" not in after
    assert "Withdrawn for legal reasons" in after


def test_feeds_hold_the_newest_fifty(client, desk, services):
    statements = [
        NewStatement(
            title=f"Item {i:02d}",
            body="Text",
            kind="news",
            published_at=datetime(2021, 1, 1, tzinfo=UTC) + timedelta(hours=i),
        )
        for i in range(60)
    ]
    services.press_office.import_statements(statements, actor="import")
    desk.settle()
    entries = read(client, "/feeds/all.atom").entries
    assert len(entries) == 50
    assert entries[0].title == "Item 59" and entries[-1].title == "Item 10"


def dangerous_markup(html_text: str) -> list[str]:
    """Scripts, event handlers and javascript: URLs in an HTML document or fragment."""
    if not html_text.strip():
        return []
    tree = lxml.html.fromstring(f"<div>{html_text}</div>")
    found = [etree.tostring(e, encoding=str)[:60] for e in tree.iter("script")]
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            if name.lower().startswith("on"):
                found.append(f"{element.tag} {name}")
            if name in ("href", "src") and value.strip().lower().startswith(
                "javascript:"
            ):
                found.append(f"{element.tag} {name}={value}")
    return found


def html_parts_of(path: str, data: bytes) -> list[str]:
    """The parts of a response a browser or feed reader renders as HTML."""
    if path.endswith(".json"):
        return [item["content_html"] for item in json.loads(data)["items"]]
    if path.endswith((".atom", ".rss")):
        parsed = feedparser.parse(data)
        return [c.value for e in parsed.entries for c in e.get("content", [])] + [
            e.get("summary", "") for e in parsed.entries
        ]
    return [data.decode()]


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">click</a>',
        '<p onclick="alert(1)">x</p>',
        "![x](javascript:alert(1))",
    ],
)
def test_hostile_markup_never_reaches_a_page_or_a_feed(client, desk, hostile):
    statement = desk.create(title=f"Title {hostile}", body=f"Body {hostile} end")
    paths = [
        *FEEDS,
        "/feeds/changes.atom",
        "/",
        "/messages",
        f"/statements/{statement['slug']}",
    ]
    for path in paths:
        data = client.get(path).data
        for part in html_parts_of(path, data):
            assert dangerous_markup(part) == [], (path, part)
    rss = etree.fromstring(client.get("/feeds/all.rss").data)
    assert rss.findtext("channel/item/title") == f"Title {hostile}"


def test_control_characters_are_stripped_on_the_way_in(client, desk):
    desk.create(title="Bell\x07 title", body="Text with \x0b vertical tab")
    parsed = read(client, "/feeds/all.atom")
    assert parsed.entries[0].title == "Bell title"


def test_links_inside_content_are_absolute(client, desk):
    desk.create(
        body="See [the earlier statement](/statements/earlier) and [this](https://example.org/x)."
    )
    content = read(client, "/feeds/all.atom").entries[0].content[0].value
    assert 'href="http://localhost/statements/earlier"' in content
    assert 'href="https://example.org/x"' in content
    item = json.loads(client.get("/feeds/all.json").data)["items"][0]
    assert 'href="http://localhost/statements/earlier"' in item["content_html"]


def test_relative_links_are_read_against_the_statements_page(client, desk):
    """As the page reads them: a reader would read them against the feed's
    address, where they lead nowhere."""
    desk.create(
        title="Links",
        body="[Next](next-step), [up](../messages) and [a note](#note).",
    )
    content = read(client, "/feeds/all.atom").entries[0].content[0].value
    assert 'href="http://localhost/statements/next-step"' in content
    assert 'href="http://localhost/messages"' in content
    assert 'href="http://localhost/statements/links#note"' in content


def test_feed_and_archive_hold_every_statement_even_when_back_dated_out_of_order(
    client, desk, services
):
    statements = [
        NewStatement(
            title=f"Back-dated {i:02d}",
            body="Text",
            kind="news",
            published_at=datetime(2020, 1, 1, tzinfo=UTC) - timedelta(days=i),
        )
        for i in range(60)
    ]
    services.press_office.import_statements(statements, actor="import")
    desk.settle()
    titles = {e.title for e in read(client, "/feeds/all.atom").entries}
    titles |= {e.title for e in read(client, "/feeds/archive/1.atom").entries}
    assert titles == {f"Back-dated {i:02d}" for i in range(60)}


def test_last_modified_moves_with_every_change_even_a_minor_one(client, desk):
    statement = desk.create(title="Hours", body="Nine.")
    first = client.get("/feeds/all.atom")
    desk.amend(statement, "Typo", minor=True, body="Nine!")
    answer = client.get(
        "/feeds/all.atom", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert answer.status_code == 200
    assert b"Nine!" in answer.data
