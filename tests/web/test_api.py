"""The command API, row by row of its table in docs/design.md, and every error it answers."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

PROBLEM = "application/problem+json"


def create(client, headers, **fields):
    body = {
        "title": "Trade fair in Lyon",
        "body": "We will **attend**.",
        "kind": "news",
    }
    return client.post("/api/statements", json={**body, **fields}, headers=headers)


def later(**delta) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def log_head(services) -> int:
    return services.press_office.recorder.max_notification_id() or 0


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    problem = response.get_json(force=True)
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert problem["status"] == status
    return problem


# POST /api/statements


def test_create_answers_201_with_location_etag_and_the_representation(
    client, publisher
):
    response = create(client, publisher, tags=["Trade", "trade", "lyon"], language="en")
    assert response.status_code == 201
    statement = response.get_json()
    assert response.headers["Location"] == f"/api/statements/{statement['id']}"
    assert response.headers["ETag"] == '"2"'
    assert statement["status"] == "published"
    assert statement["tags"] == ["trade", "lyon"]
    assert statement["language"] == "en"
    assert statement["translations"] == {}
    assert statement["body_html"] == "<p>We will <strong>attend</strong>.</p>\n"
    assert statement["url"].endswith("/statements/trade-fair-in-lyon")
    expected = {
        "id",
        "slug",
        "kind",
        "title",
        "body",
        "body_html",
        "language",
        "tags",
        "status",
        "version",
        "published_at",
        "updated_at",
        "publish_at",
        "retracted_at",
        "retraction_reason",
        "url",
        "change_notes",
        "translations",
    }
    assert expected <= statement.keys()


def test_create_as_draft_scheduled_or_back_dated(client, publisher):
    assert create(client, publisher, draft=True).get_json()["status"] == "draft"
    embargo = later(hours=2)
    scheduled = create(client, publisher, publish_at=embargo).get_json()
    assert scheduled["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled["publish_at"]) == datetime.fromisoformat(
        embargo
    )
    old = create(client, publisher, published_at="2024-03-01T10:00:00+03:00").get_json()
    assert old["published_at"] == "2024-03-01T07:00:00Z"


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"kind": "tweet"}, 422),
        ({"title": ""}, 422),
        ({"title": "\u200b\u200d\u00ad\u3164"}, 422),  # nothing a reader sees
        ({"body": "\u2800 \ufeff"}, 422),
        ({"title": "x" * 301}, 422),
        ({"body": ""}, 422),
        ({"title": 42}, 422),
        ({"tags": "trade"}, 422),
        ({"tags": [f"t{i}" for i in range(21)]}, 422),
        ({"tags": ["no spaces"]}, 422),
        ({"draft": "yes"}, 422),
        ({"publish_at": "2030-01-01T10:00:00"}, 422),
        ({"published_at": "2020-01-01T10:00:00"}, 422),
        ({"publish_at": "2020-01-01T10:00:00Z"}, 422),
        ({"published_at": "2099-01-01T10:00:00Z"}, 422),
        ({"published_at": "1000000000"}, 422),  # seconds since 1970: no ISO 8601
        ({"published_at": 1000000000}, 422),
        ({"publish_at": "1893456000"}, 422),
        ({"draft": True, "publish_at": "2099-01-01T10:00:00Z"}, 422),
        ({"slug": "Not A Slug"}, 422),
        ({"slug": "3f2a6b1c-0000-4000-8000-000000000000"}, 422),
        ({"language": "not a language"}, 422),
        ({"language": "fr"}, 422),  # not one of PRESSFEED_LANGUAGES (en)
        ({"translation_of": "no-such-statement"}, 422),
        ({"unknown_field": 1}, 422),
    ],
)
def test_invalid_creations_get_a_problem_and_change_nothing(
    client, publisher, services, fields, status
):
    head = log_head(services)
    assert_problem(create(client, publisher, **fields), status)
    assert log_head(services) == head


@pytest.mark.parametrize(
    "content_type", ["application/merge-patch+json", "application/problem+json"]
)
def test_a_body_of_another_json_type_is_415(client, publisher, content_type):
    response = client.post(
        "/api/statements",
        data=json.dumps({"title": "x", "body": "y", "kind": "news"}),
        content_type=content_type,
        headers=publisher,
    )
    assert_problem(response, 415)


def test_malformed_json_is_400_and_changes_nothing(client, publisher, services):
    head = log_head(services)
    response = client.post(
        "/api/statements",
        data=b'{"title": "x",',
        content_type="application/json",
        headers=publisher,
    )
    assert_problem(response, 400)
    bad_utf8 = client.post(
        "/api/statements",
        data=b'{"title": "\xff"}',
        content_type="application/json",
        headers=publisher,
    )
    assert_problem(bad_utf8, 400)
    body = '{"title": "x", "body": "y", "kind": "news", "draft": true}'
    for encoded in (
        body.encode("utf-16"),
        body.encode("utf-32"),
        body.encode("utf-8-sig"),
        b'{"title": "x", "body": "\\ud800", "kind": "news"}',  # a lone surrogate
    ):
        response = client.post(
            "/api/statements",
            data=encoded,
            content_type="application/json",
            headers=publisher,
        )
        assert_problem(response, 400)
        assert response.get_json()["type"].endswith("/malformed-json")
    assert log_head(services) == head


def test_a_body_that_is_not_json_is_415(client, publisher):
    response = client.post("/api/statements", data="title=x", headers=publisher)
    assert_problem(response, 415)


def test_a_request_over_one_mebibyte_is_413_and_changes_nothing(
    client, publisher, services
):
    head = log_head(services)
    huge = json.dumps({"title": "t", "body": "x" * (2 * 1024 * 1024), "kind": "news"})
    response = client.post(
        "/api/statements", data=huge, content_type="application/json", headers=publisher
    )
    assert_problem(response, 413)
    assert log_head(services) == head


def test_a_large_body_is_413_even_where_the_command_reads_no_body(
    client, publisher, services
):
    draft = create(client, publisher, draft=True).get_json()
    head = log_head(services)
    response = client.post(
        f"/api/statements/{draft['id']}/publication",
        data=b" " * (2 * 1024 * 1024),
        content_type="application/json",
        headers=publisher,
    )
    assert_problem(response, 413)
    assert log_head(services) == head


def test_a_chunked_body_is_read_up_to_the_limit_and_refused_past_it(
    client, publisher, services
):
    """Without Content-Length, as a WSGI server passes a chunked body on."""
    head = log_head(services)
    body = json.dumps({"title": "Chunked", "body": "b", "kind": "news"}).encode()
    for size, status in [(1024 * 1024, 201), (1024 * 1024 + 1, 413)]:
        response = client.post(
            "/api/statements",
            input_stream=io.BytesIO(body.ljust(size)),
            content_type="application/json",
            headers={**publisher, "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
        assert response.status_code == status, response.get_data(as_text=True)
    assert log_head(services) == head + 3  # the first: drafted, published, slug


def test_a_body_of_the_largest_allowed_size_is_accepted(client, publisher):
    assert create(client, publisher, body="x" * 200_000).status_code == 201
    assert_problem(create(client, publisher, body="x" * 200_001), 422)


def test_a_taken_slug_is_409(client, publisher):
    create(client, publisher, slug="lyon")
    assert_problem(create(client, publisher, slug="lyon"), 409)


# Auth


def test_no_token_is_401_and_a_wrong_role_is_403(client, auditor, services):
    head = log_head(services)
    response = create(client, {})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(create(client, {"Authorization": "Bearer pf_nope_nope"}), 401)
    assert_problem(create(client, {"Authorization": "Basic abc"}), 401)
    assert_problem(create(client, auditor), 403)
    assert_problem(client.get("/api/statements", headers=auditor), 403)
    assert log_head(services) == head


# GET /api/statements/<id or slug>


def test_get_by_id_or_slug_with_etag_and_404(client, publisher):
    statement = create(client, publisher).get_json()
    by_id = client.get(f"/api/statements/{statement['id']}", headers=publisher)
    by_slug = client.get(f"/api/statements/{statement['slug']}", headers=publisher)
    assert by_id.status_code == by_slug.status_code == 200
    assert by_id.get_json() == by_slug.get_json() == statement
    assert by_id.headers["ETag"] == '"2"'
    not_modified = client.get(
        f"/api/statements/{statement['slug']}",
        headers={**publisher, "If-None-Match": '"2"'},
    )
    assert not_modified.status_code == 304
    for held in ('W/"2"', '"1", W/"2"', "*"):  # If-None-Match compares weakly
        headers = {**publisher, "If-None-Match": held}
        assert client.get(by_id.request.path, headers=headers).status_code == 304
    for held, status in (('"2"', 200), ("*", 200), ('"1"', 412), ('W/"2"', 412)):
        headers = {**publisher, "If-Match": held}  # strongly, on a GET too
        answer = client.get(by_id.request.path, headers=headers)
        assert answer.status_code == status, held
        assert answer.headers["ETag"] == '"2"'
    assert_problem(client.get("/api/statements/no-such-thing", headers=publisher), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/publication"),
        ("delete", "/schedule"),
        ("post", "/review"),
        ("delete", "/translation"),
        ("delete", "/api/featured"),
    ],
)
def test_a_command_that_takes_no_body_refuses_one_and_changes_nothing(
    client, publisher, services, method, path
):
    """A publish_at sent to /publication must not publish at once."""
    draft = create(client, publisher, draft=True).get_json()
    url = path if path.startswith("/api/") else f"/api/statements/{draft['id']}{path}"
    head = log_head(services)
    for body in (
        {"json": {"publish_at": later(days=2)}},
        {"data": "garbage", "content_type": "text/plain"},
    ):
        response = getattr(client, method)(url, headers=publisher, **body)
        problem = assert_problem(response, 422)
        assert problem["errors"] == [
            {"field": "(body)", "message": "this command takes no body"}
        ]
    assert log_head(services) == head
    again = client.get(f"/api/statements/{draft['id']}", headers=publisher)
    assert again.get_json()["status"] == "draft"


def test_a_second_submission_for_review_records_nothing(client, publisher, services):
    draft = create(client, publisher, draft=True).get_json()
    url = f"/api/statements/{draft['id']}/review"
    first = client.post(url, headers=publisher)
    head = log_head(services)
    second = client.post(url, headers=publisher)
    assert first.status_code == second.status_code == 200
    assert second.get_json()["version"] == first.get_json()["version"]
    assert log_head(services) == head


def test_if_match_may_list_tags_of_one_version(client, publisher):
    statement = create(client, publisher).get_json()
    url = f"/api/statements/{statement['id']}/amendments"
    body = {"body": "Corrected.", "change_note": "Typo"}
    both = {**publisher, "If-Match": '"1", "2"'}
    assert_problem(client.post(url, json=body, headers=both), 400)
    listed = {**publisher, "If-Match": '"2", W/"2"'}
    assert client.post(url, json=body, headers=listed).status_code == 200


# GET /api/statements


def test_list_filters_by_status_and_kind_and_pages_with_a_cursor(client, publisher):
    for i in range(5):
        create(client, publisher, title=f"News {i}", draft=i % 2 == 0)
    create(client, publisher, title="A speech", kind="speech")
    everything = client.get("/api/statements?limit=100", headers=publisher).get_json()
    assert [s["title"] for s in everything["items"]][:2] == ["A speech", "News 4"]
    assert everything["next_cursor"] is None
    drafts = client.get("/api/statements?status=draft", headers=publisher).get_json()
    assert {s["title"] for s in drafts["items"]} == {"News 0", "News 2", "News 4"}
    speeches = client.get("/api/statements?kind=speech", headers=publisher).get_json()
    assert [s["title"] for s in speeches["items"]] == ["A speech"]
    titles, cursor = [], None
    while True:
        query = "/api/statements?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(query, headers=publisher).get_json()
        titles += [s["title"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert titles == [s["title"] for s in everything["items"]]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=abc", "status=lost", "cursor=%%%", "x=1"]
)
def test_bad_list_queries_are_4xx_problems(client, publisher, query):
    response = client.get(f"/api/statements?{query}", headers=publisher)
    assert response.status_code in (400, 422)
    assert response.mimetype == PROBLEM


# POST /api/statements/<id>/amendments


def test_amendment_needs_if_match_428_and_412_when_stale(client, publisher, services):
    statement = create(client, publisher).get_json()
    url = f"/api/statements/{statement['id']}/amendments"
    change = {"title": "Trade fair in Lyon, 3-5 June", "change_note": "Added the dates"}
    assert_problem(client.post(url, json=change, headers=publisher), 428)
    amended = client.post(url, json=change, headers={**publisher, "If-Match": '"2"'})
    assert amended.status_code == 200
    assert amended.headers["ETag"] == '"3"'
    body = amended.get_json()
    assert body["title"] == change["title"]
    assert body["change_notes"][-1]["note"] == "Added the dates"
    head = log_head(services)
    stale = client.post(
        url, json={**change, "title": "Other"}, headers={**publisher, "If-Match": '"2"'}
    )
    assert_problem(stale, 412)
    assert stale.headers["ETag"] == '"3"'
    assert log_head(services) == head


@pytest.mark.parametrize(
    "change",
    [
        {"title": "New"},
        {"title": "New", "change_note": ""},
        {"change_note": "Nothing changed"},
        {"title": "New", "change_note": "x" * 2001},
        {"slug": "new", "change_note": "x"},
        {"kind": "tweet", "change_note": "x"},
        {"minor": "yes", "title": "New", "change_note": "x"},
    ],
)
def test_invalid_amendments_are_422_and_change_nothing(
    client, publisher, services, change
):
    statement = create(client, publisher).get_json()
    head = log_head(services)
    response = client.post(
        f"/api/statements/{statement['id']}/amendments",
        json=change,
        headers={**publisher, "If-Match": '"2"'},
    )
    assert_problem(response, 422)
    assert log_head(services) == head


def test_a_minor_amendment_keeps_updated_at(client, publisher):
    statement = create(client, publisher).get_json()
    minor = client.post(
        f"/api/statements/{statement['id']}/amendments",
        json={"body": "We will **attend** it.", "change_note": "Typo", "minor": True},
        headers={**publisher, "If-Match": '"2"'},
    ).get_json()
    assert minor["updated_at"] == statement["updated_at"]
    assert minor["change_notes"][-1]["minor"] is True


def test_amending_an_unknown_statement_is_404(client, publisher):
    response = client.post(
        "/api/statements/00000000-0000-4000-8000-000000000000/amendments",
        json={"title": "x", "change_note": "x"},
        headers={**publisher, "If-Match": '"1"'},
    )
    assert_problem(response, 404)


# POST /api/statements/<id>/publication


def test_publication_publishes_a_draft_and_409_when_published(client, publisher):
    draft = create(client, publisher, draft=True).get_json()
    url = f"/api/statements/{draft['id']}/publication"
    published = client.post(url, headers=publisher)
    assert published.status_code == 200
    assert published.get_json()["status"] == "published"
    assert_problem(client.post(url, headers=publisher), 409)


# PUT and DELETE /api/statements/<id>/schedule


def test_schedule_reschedule_and_unschedule(client, publisher):
    draft = create(client, publisher, draft=True).get_json()
    url = f"/api/statements/{draft['id']}/schedule"
    first = client.put(url, json={"publish_at": later(hours=3)}, headers=publisher)
    assert (first.status_code, first.get_json()["status"]) == (200, "scheduled")
    moved = client.put(url, json={"publish_at": later(hours=1)}, headers=publisher)
    assert moved.get_json()["publish_at"] < first.get_json()["publish_at"]
    back = client.delete(url, headers=publisher)
    assert (back.status_code, back.get_json()["status"]) == (200, "draft")
    assert back.get_json()["publish_at"] is None
    assert_problem(client.delete(url, headers=publisher), 409)


def test_schedule_in_the_past_or_naive_is_422_and_published_is_409(client, publisher):
    draft = create(client, publisher, draft=True).get_json()
    url = f"/api/statements/{draft['id']}/schedule"
    assert_problem(
        client.put(url, json={"publish_at": later(hours=-1)}, headers=publisher), 422
    )
    assert_problem(
        client.put(url, json={"publish_at": "2099-01-01T00:00:00"}, headers=publisher),
        422,
    )
    published = create(client, publisher).get_json()
    response = client.put(
        f"/api/statements/{published['id']}/schedule",
        json={"publish_at": later(hours=1)},
        headers=publisher,
    )
    assert_problem(response, 409)


# POST /api/statements/<id>/retraction


def test_retraction_needs_if_match_and_a_reason_then_every_command_is_409(
    client, publisher
):
    statement = create(client, publisher).get_json()
    base = f"/api/statements/{statement['id']}"
    reason = {"reason": "Published in error"}
    assert_problem(
        client.post(f"{base}/retraction", json=reason, headers=publisher), 428
    )
    assert_problem(
        client.post(
            f"{base}/retraction", json={}, headers={**publisher, "If-Match": '"2"'}
        ),
        422,
    )
    retracted = client.post(
        f"{base}/retraction", json=reason, headers={**publisher, "If-Match": '"2"'}
    )
    assert retracted.status_code == 200
    body = retracted.get_json()
    assert (body["status"], body["retraction_reason"]) == (
        "retracted",
        "Published in error",
    )
    assert body["retracted_at"] is not None
    if_match = {**publisher, "If-Match": '"3"'}
    assert_problem(
        client.post(f"{base}/retraction", json=reason, headers=if_match), 409
    )
    assert_problem(
        client.post(
            f"{base}/amendments",
            json={"title": "x", "change_note": "x"},
            headers=if_match,
        ),
        409,
    )
    assert_problem(client.post(f"{base}/publication", headers=publisher), 409)
    assert_problem(
        client.put(
            f"{base}/schedule", json={"publish_at": later(hours=1)}, headers=publisher
        ),
        409,
    )
    assert_problem(client.delete(f"{base}/schedule", headers=publisher), 409)


def test_if_match_star_on_a_retraction_raced_by_ten_is_one_200_and_nine_409(
    client, publisher, services
):
    """* means whatever version is current: a loser finds the statement retracted
    (409), never a stale version (412), however the race interleaves. Every
    client reads the statement before any saves."""
    statement = create(client, publisher).get_json()
    barrier = threading.Barrier(10)
    first_read = threading.local()
    get_statement = services.press_office.get_statement

    def read_together(*args, **kwargs):
        found = get_statement(*args, **kwargs)
        if not getattr(first_read, "done", False):
            first_read.done = True
            barrier.wait(timeout=30)
        return found

    services.press_office.get_statement = read_together
    answers: list[int] = []

    def retract(n: int) -> None:
        response = client.application.test_client().post(
            f"/api/statements/{statement['id']}/retraction",
            json={"reason": f"Withdrawn by {n}"},
            headers={**publisher, "If-Match": "*"},
        )
        answers.append(response.status_code)

    threads = [threading.Thread(target=retract, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    services.press_office.get_statement = get_statement
    assert sorted(answers) == [200] + [409] * 9
    final = get_statement(UUID(statement["id"]))
    assert (final.status, final.version) == ("retracted", 3)


# Idempotency-Key


def test_the_same_idempotency_key_and_body_returns_the_first_answer(
    client, publisher, services
):
    headers = {**publisher, "Idempotency-Key": "release-42"}
    first = create(client, headers)
    head = log_head(services)
    second = create(client, headers)
    assert second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert log_head(services) == head
    other_body = create(client, headers, title="A different statement")
    assert_problem(other_body, 422)
    assert log_head(services) == head


def test_idempotent_amendment_retry_is_not_a_412(client, publisher, services):
    statement = create(client, publisher).get_json()
    headers = {**publisher, "If-Match": '"2"', "Idempotency-Key": "amend-1"}
    url = f"/api/statements/{statement['id']}/amendments"
    change = {"title": "Trade fair in Lyon (June)", "change_note": "Month"}
    first = client.post(url, json=change, headers=headers)
    second = client.post(url, json=change, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.get_json()["version"] == 3


# Misc


def test_unknown_paths_and_methods_are_problems(client, publisher):
    assert_problem(client.get("/api/nothing-here", headers=publisher), 404)
    assert_problem(client.patch("/api/statements", headers=publisher), 405)


def test_healthz_reports_the_store_and_the_lag(client, services):
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok"
    assert health["store"] in ("sqlite", "postgresql")
    assert health["projection_lag"] >= 0


def test_openapi_describes_every_command(client):
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    assert set(paths["/api/statements"]) == {"post", "get"}
    assert set(paths["/api/statements/{statement_id}/schedule"]) == {"put", "delete"}
    create_schema = document["components"]["schemas"]["StatementCreate"]
    assert create_schema["properties"]["title"]["maxLength"] == 300
    assert "news" in create_schema["properties"]["kind"]["enum"]


def test_problem_types_lead_to_an_explanation(client, publisher):
    problem = client.post("/api/statements", json={}, headers=publisher).get_json()
    path = problem["type"].removeprefix("http://localhost")
    page = client.get(path)
    assert page.status_code == 200 and b"missing" in page.data
    assert client.get("/problems/no-such-problem").status_code == 404
