"""WebSub: every public change pings each hub for each feed it shows in, retried on failure."""

from __future__ import annotations

import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pressfeed.application import NewStatement
from pressfeed.assembly import Pressfeed
from pressfeed.syndication import FEED_FORMATS, FeedFormat, register_feed_format
from pressfeed.web import create_app
from pressfeed.websub import HubPinger
from tests.conftest import make_settings


class Hub:
    """A small local hub endpoint that records pings and can refuse them."""

    def __init__(self) -> None:
        self.pings: list[dict[str, str]] = []
        self.refuse = False
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                if hub.refuse:
                    self.send_response(503)
                else:
                    hub.pings.append({k: v[0] for k, v in form.items()})
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hub"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def feeds_pinged(self) -> set[str]:
        return {p["hub.url"] for p in self.pings if p["hub.mode"] == "publish"}


@pytest.fixture
def hub():
    hub = Hub()
    yield hub
    hub.server.shutdown()


@pytest.fixture
def hub_services(tmp_path, hub):
    settings = make_settings(tmp_path, PRESSFEED_WEBSUB_HUBS=hub.url)
    services = Pressfeed(settings)
    services.attach_worker(services.projection_worker())
    yield services
    services.close()


def publish(services, **fields):
    return services.press_office.create_statement(
        NewStatement(title="Exhibition", body="Opens soon.", kind="comment", **fields),
        actor="po",
    ).statement


def test_a_publication_pings_the_hub_for_each_feed_it_appears_in(hub_services, hub):
    publish(hub_services, tags=["culture"])
    hub_services.worker.catch_up()
    hub_services.pinger.send_due()
    base = "http://localhost"
    assert hub.feeds_pinged() >= {
        f"{base}/feeds/all.atom",
        f"{base}/feeds/all.rss",
        f"{base}/feeds/all.json",
        f"{base}/feeds/changes.atom",
        f"{base}/feeds/kind/comment.atom",
        f"{base}/feeds/tag/culture.json",
    }


def test_drafts_ping_nobody(hub_services, hub):
    publish(hub_services, draft=True)
    hub_services.worker.catch_up()
    hub_services.pinger.send_due()
    assert hub.pings == []


def test_a_refused_ping_is_retried_later(hub_services, hub):
    publish(hub_services)
    hub_services.worker.catch_up()
    hub.refuse = True
    pinger: HubPinger = hub_services.pinger
    assert pinger.send_due() == 0
    hub.refuse = False
    assert pinger.send_due() == 0  # backing off: not due yet
    far_future = 10**18
    assert pinger.send_due(now_us=far_future) > 0
    assert "http://localhost/feeds/all.atom" in hub.feeds_pinged()
    assert pinger.send_due(now_us=far_future) == 0


def test_feeds_name_the_hub(hub_services, hub):
    publish(hub_services)
    hub_services.worker.catch_up()
    client = create_app(services=hub_services).test_client()
    assert f'href="{hub.url}" rel="hub"' in client.get("/feeds/all.atom").get_data(
        as_text=True
    )
    rss = client.get("/feeds/all.rss").get_data(as_text=True)
    assert f'rel="hub" href="{hub.url}"' in rss
    assert client.get("/feeds/all.json").get_json()["hubs"] == [
        {"type": "WebSub", "url": hub.url}
    ]


def test_the_running_worker_pings_by_itself(hub_services, hub):
    hub_services.worker.start()
    try:
        publish(hub_services)
        for _ in range(200):
            if hub.pings:
                break
            threading.Event().wait(0.02)
    finally:
        hub_services.worker.stop()
    assert "http://localhost/feeds/all.atom" in hub.feeds_pinged()


def test_without_hubs_the_worker_keeps_no_outbox(services):
    from pressfeed.projections.websub import TABLE

    publish(services)
    head = services.press_office.recorder.max_notification_id()
    assert services.worker.wait_until(head)
    assert services.pinger is None
    assert services.views.query("SELECT what FROM {t}", t=TABLE) == []


def plain_text(spec, documents, settings, extras=None) -> bytes:
    """A throwaway feed format: one title a line."""
    return "".join(f"{d['title']}\n" for d in documents).encode()


@pytest.fixture
def text_format():
    text = FeedFormat("Plain text", "txt", "text/plain", "utf-8", plain_text)
    register_feed_format(text)
    yield text
    del FEED_FORMATS[text.extension]


def test_a_registered_format_is_served_and_pinged(hub_services, hub, text_format):
    publish(hub_services, tags=["culture"])
    hub_services.worker.catch_up()
    hub_services.pinger.send_due()
    client = create_app(services=hub_services).test_client()
    for path in ("/feeds/all.txt", "/feeds/kind/comment.txt", "/feeds/tag/culture.txt"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.get_data(as_text=True) == "Exhibition\n"
        assert f"http://localhost{path}" in hub.feeds_pinged()
    assert client.get("/feeds/all.xyz").status_code == 404


def test_a_minor_amendment_pings_the_statement_feeds_but_not_the_changes_feed(
    hub_services, hub
):
    """The feeds carry the corrected text: subscribers must hear of it; the
    changes feed lists major changes only."""
    statement = publish(hub_services, tags=["culture"])
    hub_services.worker.catch_up()
    hub_services.pinger.send_due()
    hub.pings.clear()
    hub_services.press_office.amend(
        statement.id,
        expected_version=statement.version,
        changes={"body": "Opens soon!"},
        change_note="Typo",
        minor=True,
        actor="po",
    )
    hub_services.worker.catch_up()
    hub_services.pinger.send_due()
    pinged = hub.feeds_pinged()
    assert {
        "http://localhost/feeds/all.atom",
        "http://localhost/feeds/kind/comment.json",
        "http://localhost/feeds/tag/culture.rss",
    } <= pinged
    assert "http://localhost/feeds/changes.atom" not in pinged


@pytest.fixture
def two_language_hub_services(tmp_path, hub):
    settings = make_settings(
        tmp_path, PRESSFEED_WEBSUB_HUBS=hub.url, PRESSFEED_LANGUAGES="en,ru"
    )
    services = Pressfeed(settings)
    services.attach_worker(services.projection_worker())
    yield services
    services.close()


@pytest.mark.parametrize("drafted", [True, False])
def test_a_translation_pings_its_originals_feeds_once_it_is_published(
    two_language_hub_services, hub, drafted
):
    """The original's Atom entry links its published translations: publishing
    one changes the original's feeds (created published, it joins its group
    after its publication, in the same transaction); a draft changes nothing."""
    services = two_language_hub_services
    original = publish(services, tags=["culture"])
    deliver(services)
    hub.pings.clear()
    translation = publish(
        services, language="ru", translation_of=str(original.id), draft=drafted
    )
    deliver(services)
    if drafted:
        assert hub.pings == []
        services.press_office.publish(translation.id, actor="po")
        deliver(services)
    assert {
        "http://localhost/feeds/all.atom",
        "http://localhost/feeds/tag/culture.atom",
        "http://localhost/ru/feeds/all.atom",
    } <= hub.feeds_pinged()


def deliver(services) -> None:
    """The worker applies the log, and the pinger sends what is due."""
    services.worker.catch_up()
    services.pinger.send_due()


def test_feeds_name_the_hub_and_themselves_in_link_headers(hub_services, hub):
    """WebSub discovery in HTTP, the one a JSON Feed reader has."""
    publish(hub_services)
    hub_services.worker.catch_up()
    client = create_app(services=hub_services).test_client()
    for path in ("/feeds/all.json", "/feeds/kind/comment.rss", "/feeds/changes.atom"):
        link = client.get(path).headers["Link"]
        assert f'<{hub.url}>; rel="hub"' in link, path
        assert f'<http://localhost{path}>; rel="self"' in link, path
    changes = client.get("/feeds/changes.atom").get_data(as_text=True)
    assert f'href="{hub.url}" rel="hub"' in changes
