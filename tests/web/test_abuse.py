"""Hostile and careless clients: every abuse gets a documented 4xx problem and
leaves the store exactly as it was."""

from __future__ import annotations

import json
import time

import pytest

PROBLEM = "application/problem+json"


@pytest.fixture
def settings(sqlite_settings):
    return sqlite_settings


@pytest.fixture
def unchanged(services):
    """Asserts, after the test, that the event log did not move."""
    head = services.press_office.recorder.max_notification_id() or 0
    yield
    assert (services.press_office.recorder.max_notification_id() or 0) == head


@pytest.fixture
def statement(desk):
    return desk.create(title="Target", body="Text")


def post_json(client, path, body, headers, **extra_headers):
    return client.post(
        path,
        data=body if isinstance(body, bytes | str) else json.dumps(body),
        content_type="application/json",
        headers={**headers, **extra_headers},
    )


def assert_4xx_problem(response, *statuses):
    assert response.status_code in statuses, (
        response.status_code,
        response.get_data(as_text=True)[:300],
    )
    assert response.mimetype == PROBLEM


LIMITS = [
    ("title", "x" * 300, "x" * 301),
    ("body", "x" * 200_000, "x" * 200_001),
    ("tags", [f"t{i}" for i in range(20)], [f"t{i}" for i in range(21)]),
]


@pytest.mark.parametrize(("field", "at_limit", "over_limit"), LIMITS)
def test_create_at_a_limit_passes_and_over_it_is_422(
    client, publisher, services, field, at_limit, over_limit
):
    base = {"title": "t", "body": "b", "kind": "news"}
    assert (
        post_json(
            client, "/api/statements", {**base, field: at_limit}, publisher
        ).status_code
        == 201
    )
    head = services.press_office.recorder.max_notification_id()
    assert_4xx_problem(
        post_json(client, "/api/statements", {**base, field: over_limit}, publisher),
        422,
    )
    assert services.press_office.recorder.max_notification_id() == head


@pytest.mark.parametrize("size", [2_000, 2_001])
def test_change_notes_and_reasons_at_and_over_2000(
    client, publisher, statement, size, services
):
    head = services.press_office.recorder.max_notification_id()
    url = f"/api/statements/{statement['id']}"
    amended = post_json(
        client,
        f"{url}/amendments",
        {"title": "New", "change_note": "n" * size},
        publisher,
        **{"If-Match": '"2"'},
    )
    retracted = post_json(
        client,
        f"{url}/retraction",
        {"reason": "r" * size},
        publisher,
        **{"If-Match": '"3"'},
    )
    if size == 2_000:
        assert (amended.status_code, retracted.status_code) == (200, 200)
    else:
        assert_4xx_problem(amended, 422)
        assert_4xx_problem(retracted, 422)
        assert services.press_office.recorder.max_notification_id() == head


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"title": ' + "[" * 50_000 + "]" * 50_000 + ', "body": "b", "kind": "news"}',
        '{"title": {"a": {"b": {"c": {"d": "deep"}}}}, "body": "b", "kind": "news"}',
        b'{"title": "caf\xe9", "body": "b", "kind": "news"}',
        b"\xff\xfe\x00{",
        "null",
        "[]",
        '"a string"',
        '{"title": "t", "body": "b", "kind": "news", "title": 5}',
    ],
)
def test_nested_invalid_and_odd_json_is_refused(client, publisher, unchanged, body):
    assert_4xx_problem(post_json(client, "/api/statements", body, publisher), 400, 422)


@pytest.mark.parametrize(
    "fields",
    [
        {"slug": "a\r\nSet-Cookie: x=1"},
        {"slug": "../../etc/passwd"},
        {"slug": "a/b"},
        {"tags": ["ok", "x\r\nSet-Cookie: y=1"]},
        {"tags": ["../admin"]},
        {"title": "Title", "language": "en\r\nX-Injected: 1"},
    ],
)
def test_header_injection_and_traversal_in_fields_is_422(
    client, publisher, unchanged, fields
):
    body = {"title": "t", "body": "b", "kind": "news", **fields}
    assert_4xx_problem(post_json(client, "/api/statements", body, publisher), 422)


@pytest.mark.parametrize(
    "path",
    [
        "/statements/..%2F..%2Fetc%2Fpasswd",
        "/statements/a%0d%0aSet-Cookie:%20x=1",
        "/feeds/tag/a%0d%0aSet-Cookie:%20x=1.atom",
        "/feeds/tag/..%2F..%2Fsecret.atom",
        "/feeds/kind/..%2Fall.atom",
        "/feeds/archive/..%2F1.atom",
        "/static/..%2F..%2Fconfig.py",
    ],
)
def test_traversal_and_injection_in_paths_finds_nothing(client, unchanged, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "Set-Cookie" not in response.headers
    assert b"root:" not in response.data


def test_ten_thousand_tags_in_a_query_string(client, publisher, unchanged):
    query = "&".join(f"tag=t{i}" for i in range(10_000))
    assert_4xx_problem(
        client.get(f"/api/statements?{query}", headers=publisher), 400, 413, 414, 422
    )
    assert_4xx_problem(
        client.get(f"/api/statements?kind=news&{query}", headers=publisher),
        400,
        413,
        414,
        422,
    )


@pytest.mark.parametrize(
    "query",
    [
        "limit=99999999999999999999",
        "limit=-1",
        "limit=1e9",
        "cursor=-5",
        "cursor=99999999999999999999",
    ],
)
def test_huge_and_negative_list_parameters(client, publisher, unchanged, query):
    assert_4xx_problem(
        client.get(f"/api/statements?{query}", headers=publisher), 400, 422
    )


@pytest.mark.parametrize(
    "page", ["-1", "0", "99999999999999999999", "1;DROP TABLE", "%C2%B2", "%D9%A3"]
)
def test_huge_and_negative_pages(client, unchanged, page):
    assert_4xx_problem(client.get(f"/messages?page={page}"), 400)


def test_a_flood_of_one_idempotency_key_with_other_bodies(client, publisher, services):
    headers = {**publisher, "Idempotency-Key": "flood"}
    first = post_json(
        client,
        "/api/statements",
        {"title": "First", "body": "b", "kind": "news"},
        headers,
    )
    assert first.status_code == 201
    head = services.press_office.recorder.max_notification_id()
    for n in range(50):
        other = post_json(
            client,
            "/api/statements",
            {"title": f"Other {n}", "body": "b", "kind": "news"},
            headers,
        )
        assert_4xx_problem(other, 422)
        assert other.get_json()["type"].endswith("/idempotency-key-reused")
        assert "First" not in other.get_data(as_text=True)
    assert services.press_office.recorder.max_notification_id() == head


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "tab\there", "é"])
def test_malformed_idempotency_keys_are_400(client, publisher, unchanged, key):
    response = post_json(
        client,
        "/api/statements",
        {"title": "t", "body": "b", "kind": "news"},
        publisher,
        **{"Idempotency-Key": key},
    )
    assert_4xx_problem(response, 400)


@pytest.mark.parametrize("if_match", ['"abc"', "W/", '"1", "2"', "3", '"99999999999"'])
def test_malformed_if_match_is_400(client, publisher, statement, services, if_match):
    head = services.press_office.recorder.max_notification_id()
    response = post_json(
        client,
        f"/api/statements/{statement['id']}/amendments",
        {"title": "New", "change_note": "n"},
        publisher,
        **{"If-Match": if_match},
    )
    assert_4xx_problem(response, 400)
    assert services.press_office.recorder.max_notification_id() == head


def test_a_wrong_content_type_and_a_huge_header(client, publisher, unchanged):
    assert_4xx_problem(
        client.post(
            "/api/statements",
            data="title=x",
            content_type="text/plain",
            headers=publisher,
        ),
        415,
    )
    huge = {**publisher, "X-Filler": "x" * 100_000}
    response = post_json(
        client, "/api/statements", {"title": "t", "body": "b", "kind": "tweet"}, huge
    )
    assert_4xx_problem(response, 422, 431)


@pytest.mark.parametrize(
    "fields",
    [
        {"publish_at": "9999-12-31T23:00:00-05:00"},
        {"published_at": "0001-01-01T00:30:00+01:00"},
        {"published_at": "0001-01-01T00:00:00Z"},
        {"published_at": "1899-12-31T23:59:59Z"},
        {"publish_at": "9000-01-01T00:00:00Z"},
    ],
)
def test_times_outside_the_years_1900_to_8999_are_422(
    client, publisher, unchanged, fields
):
    body = {"title": "t", "body": "b", "kind": "news", **fields}
    response = post_json(client, "/api/statements", body, publisher)
    assert_4xx_problem(response, 422)
    assert response.get_json()["type"].endswith("/invalid-fields")


def test_the_earliest_back_dated_time_is_served_in_any_zone(tmp_path):
    """A publication at the bound, rendered west of UTC, where it lies in 1899."""
    from pressfeed.assembly import Pressfeed
    from pressfeed.web import create_app
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, PRESSFEED_TIMEZONE="America/New_York")
    services = Pressfeed(settings)
    try:
        client = create_app(services=services).test_client()
        token = services.tokens.create("press-office", "publisher")
        headers = {"Authorization": f"Bearer {token}"}

        def back_dated(title: str, moment: str):
            body = {"title": title, "body": "b", "kind": "news", "published_at": moment}
            return post_json(client, "/api/statements", body, headers)

        assert back_dated("Ancient", "0001-01-01T00:00:00Z").status_code == 422
        assert back_dated("Oldest", "1900-01-01T00:00:00Z").status_code == 201
        services.projection_worker().catch_up()
        services.await_views()
        assert client.get("/statements/oldest").status_code == 200
        page = client.get("/messages")
        assert page.status_code == 200
        assert "31.12.1899" in page.get_data(as_text=True)
    finally:
        services.close()


def test_as_of_a_time_outside_the_bounds_is_422(client, auditor, statement):
    response = client.get(
        f"/audit/statements/{statement['id']}/state?as_of=0001-01-01T00:00:00%2B01:00",
        headers=auditor,
    )
    assert_4xx_problem(response, 422)


@pytest.mark.parametrize(
    "query",
    [
        "after=9223372036854775808",
        "after=99999999999999999999999",
    ],
)
def test_audit_log_positions_past_64_bits_are_422(client, auditor, query):
    assert_4xx_problem(client.get(f"/audit/log?{query}", headers=auditor), 422)


def test_the_largest_audit_log_position_is_an_empty_log(client, auditor, statement):
    response = client.get("/audit/log?after=9223372036854775807", headers=auditor)
    assert (response.status_code, response.data) == (200, b"")


@pytest.mark.parametrize("body", ["![" * 99000, "[a](b)" * 33000])
def test_a_body_too_costly_to_render_is_422_naming_the_limit(
    client, publisher, unchanged, body
):
    """Issue 15, point 2: such a body took seconds to create and then cost
    every reader of every feed and page it appeared in."""
    from pressfeed.rendering import markdown_cache, render_budget_ms

    markdown_cache.clear()
    started = time.perf_counter()
    response = post_json(
        client,
        "/api/statements",
        {"title": "Heavy", "body": body, "kind": "news"},
        publisher,
    )
    assert time.perf_counter() - started < 1.0
    assert_4xx_problem(response, 422)
    [error] = response.get_json()["errors"]
    assert error["field"] == "body"
    assert f"more than {render_budget_ms(body)} ms to render" in error["message"]


def test_an_amendment_too_costly_to_render_is_422(client, publisher, statement):
    response = post_json(
        client,
        f"/api/statements/{statement['id']}/amendments",
        {"body": "![" * 99000, "change_note": "Heavier"},
        publisher,
        **{"If-Match": f'"{statement["version"]}"'},
    )
    assert_4xx_problem(response, 422)
    assert "to render" in response.get_json()["errors"][0]["message"]
