"""The request heads the server's selector loop answers itself (a kept feed
answer), and the ones it leaves to a thread and gunicorn's parser."""

from __future__ import annotations

import pytest

from pressfeed.server import PlainRequest, Sent
from pressfeed.web.replay import Answer

FEED_GET = b"GET /feeds/all.atom HTTP/1.1\r\nHost: news.example\r\n"


def head(*lines: bytes) -> bytes:
    return FEED_GET + b"".join(line + b"\r\n" for line in lines) + b"\r\n"


def test_a_plain_feed_get_is_read_with_its_headers():
    request = PlainRequest.parse(
        head(b"Accept-Encoding: gzip, br", b'If-None-Match:  "abc"  ')
    )
    assert request is not None
    assert request.path == "/feeds/all.atom"
    assert request.headers == (
        ("HOST", "news.example"),
        ("ACCEPT-ENCODING", "gzip, br"),
        ("IF-NONE-MATCH", '"abc"'),
    )
    environ = request.environ(("127.0.0.1", 5000))
    assert environ["PATH_INFO"] == "/feeds/all.atom"
    assert environ["HTTP_ACCEPT_ENCODING"] == "gzip, br"
    assert environ["HTTP_IF_NONE_MATCH"] == '"abc"'
    assert environ["QUERY_STRING"] == "" and environ["REMOTE_ADDR"] == "127.0.0.1"


def test_keep_alive_asked_for_by_name_is_still_plain():
    assert PlainRequest.parse(head(b"Connection: Keep-Alive")) is not None


@pytest.mark.parametrize(
    "unusual",
    [
        b"HEAD /feeds/all.atom HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /feeds/all.atom HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /feeds/all.atom HTTP/1.0\r\nHost: x\r\n\r\n",
        b"GET /feeds/all.atom?page=2 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /feeds/%61ll.atom HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET //feeds/all.atom HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET http://x/feeds/all.atom HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET  /feeds/all.atom HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /feeds/all.atom HTTP/1.1\nHost: x\n\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        FEED_GET,  # not whole
        FEED_GET + b"\r\n" + FEED_GET + b"\r\n",  # a second request behind it
        head(b"Cookie: session=1"),
        head(b"Content-Length: 0"),
        head(b"Transfer-Encoding: chunked"),
        head(b"Connection: close"),
        head(b"Connection: Upgrade", b"Upgrade: h2c", b"HTTP2-Settings: AAMA"),
        head(b"Expect: 100-continue"),
        head(b"Host: y"),  # twice
        head(b"X_Forwarded_For: 1.2.3.4"),  # gunicorn drops underscored names
        head(b" folded continuation"),
        head(b"No colon here"),
        head(b"X-Control: a\x01b"),
        head("X-Name: caf\u00e9".encode("latin-1")),
    ],
)
def test_anything_else_goes_to_a_thread(unusual):
    assert PlainRequest.parse(unusual) is None


def test_the_answer_is_framed_as_a_gunicorn_thread_frames_it():
    request = PlainRequest.parse(head())
    assert request is not None
    answer = Answer(
        "200 OK",
        [("Content-Type", "application/atom+xml"), ("Content-Length", "5")],
        b"<feed",
    )
    sent = Sent.of(request, request.environ(("127.0.0.1", 1)), answer)
    status, *headers = sent.response.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert status == b"HTTP/1.1 200 OK"
    assert headers[0] == b"Server: gunicorn" and headers[1].startswith(b"Date: ")
    assert headers[2:] == [
        b"Connection: keep-alive",
        b"Content-Type: application/atom+xml",
        b"Content-Length: 5",
    ]
    assert sent.response.endswith(b"\r\n\r\n<feed")
    logged, _request, environ, _took = sent.access_atoms()
    assert (logged.status, logged.sent) == ("200 OK", 5)
    assert environ["RAW_URI"] == "/feeds/all.atom"
