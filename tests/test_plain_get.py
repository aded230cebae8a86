"""The request heads the server's selector loop answers itself (a kept feed
answer), the ones it leaves to a thread and gunicorn's parser, and the bytes
of the loop's answers."""

from __future__ import annotations

import time

import pytest
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser

from pressfeed.plain_get import HeadRules, PlainRequest, Reply, sendable
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
    reply = Reply(request, request.environ(("127.0.0.1", 1)), answer)
    written = b"".join(reply.unsent())
    status, *headers = written.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert status == b"HTTP/1.1 200 OK"
    assert headers[0] == b"Server: gunicorn" and headers[1].startswith(b"Date: ")
    assert headers[2:] == [
        b"Connection: keep-alive",
        b"Content-Type: application/atom+xml",
        b"Content-Length: 5",
    ]
    assert written.endswith(b"\r\n\r\n<feed")
    reply.written = len(written) - 2
    assert b"".join(reply.unsent()) == b"ed" and not reply.done
    logged, _request, environ, _took = reply.access_atoms()
    assert (logged.status, logged.sent) == ("200 OK", 3)
    assert environ["RAW_URI"] == "/feeds/all.atom"


def test_only_a_framed_answer_without_hop_by_hop_headers_is_sent_by_the_loop():
    length = ("Content-Length", "5")
    assert sendable(Answer("200 OK", [length], b"<feed"))
    assert sendable(Answer("304 NOT MODIFIED", [("ETag", '"a"')], b""))
    assert not sendable(Answer("200 OK", [], b"<feed"))
    assert not sendable(Answer("200 OK", [length, ("Connection", "close")], b"<feed"))
    assert not sendable(Answer("200 OK", [length, ("Keep-Alive", "5")], b"<feed"))


@pytest.mark.parametrize(
    "setting, value",
    [
        ("limit_request_line", 4094),  # gunicorn's defaults
        ("limit_request_line", 0),  # no limit
        ("limit_request_line", 20_000),  # read as 8190
        ("limit_request_field_size", 0),  # read as 8190
        ("limit_request_field_size", 300),
        ("limit_request_fields", 0),  # read as 32768
        ("limit_request_fields", 3),
    ],
)
def test_every_head_the_loop_answers_is_one_gunicorns_parser_takes(setting, value):
    """At each limit's edges (one under, at, one over) the loop answers no head
    that gunicorn's own parser would refuse."""
    cfg = Config()
    cfg.set(setting, value)
    rules = HeadRules.of(cfg)
    limits = (4094, 8190, 300, 3, 100, 20_000)
    heads = []
    for limit in limits:
        for n in (limit - 1, limit, limit + 1):
            path = b"/" + b"a" * (n - len("GET / HTTP/1.1"))
            heads.append(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            heads.append(head(b"X-Long: " + b"a" * (n - len("X-Long: ") - 2)))
            if n < 200:
                heads.append(head(*(f"X-F{i}: {i}".encode() for i in range(n - 1))))
    answered = [h for h in heads if PlainRequest.parse(h, rules) is not None]
    assert answered  # the edges include heads within every limit
    for answered_head in answered:
        parser = RequestParser(cfg, iter([answered_head]), ("127.0.0.1", 1))
        assert next(parser).method == "GET"  # no Limit... exception


def test_gunicorns_limits_send_a_head_to_a_thread_which_refuses_it():
    rules = HeadRules.of(Config())
    many = [f"X-Field-{n}: {n}".encode() for n in range(rules.fields + 1)]
    assert PlainRequest.parse(head(*many[:20]), rules) is not None
    assert PlainRequest.parse(head(*many), rules) is None
    long_value = b"X-Long: " + b"a" * rules.field_size
    assert PlainRequest.parse(head(long_value), rules) is None
    long_path = b"GET /" + b"a" * rules.request_line + b" HTTP/1.1\r\n\r\n"
    assert PlainRequest.parse(long_path, rules) is None


def test_scheme_headers_that_could_disagree_go_to_a_thread():
    rules = HeadRules.of(Config())
    proto = b"X-Forwarded-Proto: https"
    assert PlainRequest.parse(head(proto), rules) is not None
    assert PlainRequest.parse(head(proto, b"X-Forwarded-Ssl: off"), rules) is None


def test_a_head_of_spaces_is_read_in_linear_time():
    """A denial-of-service guard, not a benchmark: a backtracking pattern took
    about 10 s for this head, the whole time holding the selector loop."""
    spaced = head(b"X-Spaces: a" + b" " * 60_000 + b"b")
    started = time.perf_counter()
    assert PlainRequest.parse(spaced, HeadRules(field_size=100_000)) is not None
    assert time.perf_counter() - started < 0.5
