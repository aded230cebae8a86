"""A feed Flask has answered is answered again without Flask, with exactly what
Flask sent, for the same request, until the views move; anything else goes to
Flask."""

from __future__ import annotations

import time

import pytest

from pressfeed.web import create_app
from pressfeed.web.replay import MAX_REPLAYED_PATHS, FeedReplay

FEED = "/feeds/all.atom"


@pytest.fixture
def app(services):
    return create_app(services=services)


def flask_calls(app) -> list[str]:
    """The paths Flask is asked to answer from now on."""
    replay = app.wsgi_app
    assert isinstance(replay, FeedReplay)
    calls: list[str] = []
    inner = replay.app

    def counting(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    replay.app = counting
    return calls


def answer(response) -> tuple:
    """Status, headers and body, but the one header that names the second."""
    headers = [(k, v) for k, v in response.headers if k != "X-Accel-Expires"]
    return response.status, headers, response.data


def requests_of_every_kind(client) -> list[dict[str, str]]:
    identity = client.get(FEED)
    coded = client.get(FEED, headers={"Accept-Encoding": "gzip"})
    assert coded.headers["Content-Encoding"] == "gzip"
    etag, gzip_etag = identity.headers["ETag"], coded.headers["ETag"]
    modified = identity.headers["Last-Modified"]
    return [
        {},
        {"Accept-Encoding": "gzip"},
        {"Accept-Encoding": "gzip, deflate, br"},
        {"If-None-Match": etag},
        {"If-None-Match": gzip_etag, "Accept-Encoding": "gzip"},
        {"If-None-Match": etag, "Accept-Encoding": "gzip"},  # another coding: 200
        {"If-None-Match": '"not-this-one"'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": modified},
        {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
        {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},  # a wrong clock
        {"If-None-Match": '"no"', "If-Modified-Since": modified},
    ]


def test_a_repeated_request_gets_what_flask_sent_without_asking_flask(app, desk):
    desk.create(title="Visa hours", body="Open on Mondays. " * 60)
    client = app.test_client()
    for headers in requests_of_every_kind(client):
        first = client.get(FEED, headers=headers)
        calls = flask_calls(app)
        again = client.get(FEED, headers=headers)
        assert calls == [], headers
        assert answer(again) == answer(first), headers
        assert again.headers["X-Accel-Expires"] == f"@{int(time.time())}"


def test_a_change_in_the_views_goes_to_flask_at_once(app, desk):
    statement = desk.create(title="Visa hours", body="Open on Mondays.")
    client = app.test_client()
    before = client.get(FEED).data
    assert client.get(FEED).data == before  # replayed
    desk.amend(statement, title="Visa hours from March")
    calls = flask_calls(app)
    after = client.get(FEED)
    assert calls == [FEED]
    assert b"Visa hours from March" in after.data


def test_an_answer_is_kept_under_the_position_it_was_rendered_at(app, desk, services):
    """Two reads of the position in one request can disagree (a read that
    began earlier and ended later is not remembered): the route renders at
    the replay's read, never at an older one, so no old bytes are kept as new."""
    statement = desk.create(title="Visa hours", body="Open on Mondays.")
    client = app.test_client()
    client.get(FEED)  # rendered and cached at this position
    older = services.views_position()
    desk.amend(statement, title="Visa hours from March")
    newer = services.press_office.recorder.max_notification_id()
    app.wsgi_app.position = lambda: newer  # the replay's read: the correction
    services.views_position = lambda: older  # any later read: before it
    for _ in range(2):  # rendered, then replayed
        assert b"Visa hours from March" in client.get(FEED).data


@pytest.mark.parametrize(
    "path, headers",
    [
        (FEED + "?utm_source=x", {}),
        (FEED, {"cookie": "session=abc"}),
        ("/", {}),  # pages vary with the reader's language and session
        ("/messages", {}),
    ],
)
def test_what_could_differ_is_always_answered_by_flask(app, desk, path, headers):
    desk.create()
    client = app.test_client()
    headers = dict(headers)  # the parameters are shared by both stores
    if cookie := headers.pop("cookie", None):
        client.set_cookie(*cookie.split("="))
    calls = flask_calls(app)
    answers = [answer(client.get(path, headers=headers)) for _ in range(3)]
    assert len(calls) == 3
    assert answers[0][0] == "200 OK"


def test_a_head_request_is_answered_by_flask(app, desk):
    desk.create()
    client = app.test_client()
    client.get(FEED)
    calls = flask_calls(app)
    head = client.head(FEED)
    assert calls == [FEED] and head.data == b""


def test_it_keeps_a_bounded_number_of_feeds(app, desk):
    desk.create()
    client = app.test_client()
    for n in range(MAX_REPLAYED_PATHS + 20):
        assert client.get(f"/feeds/tag/unused-{n}.atom").status_code == 200
    assert app.wsgi_app.kept <= MAX_REPLAYED_PATHS
    calls = flask_calls(app)
    client.get("/feeds/tag/unused-0.atom")  # the least recently used: dropped
    client.get(f"/feeds/tag/unused-{MAX_REPLAYED_PATHS + 19}.atom")
    assert calls == ["/feeds/tag/unused-0.atom"]
