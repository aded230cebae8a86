"""Every problem type of the registry is answered to some request, with its status,
title and a `type` whose page explains it; and a request that fails answers
nothing else."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape

from pressfeed.web.problems import PROBLEM_TYPES

PROBLEM = "application/problem+json"
LATER = (datetime.now(UTC) + timedelta(days=30)).isoformat()
EARLIER = (datetime.now(UTC) - timedelta(days=30)).isoformat()


class Caller:
    """A publisher at the API, with a published statement at hand."""

    def __init__(self, client, publisher, auditor, desk, services) -> None:
        self.client, self.headers, self.auditor = client, publisher, auditor
        self.desk, self.services = desk, services

    def post(self, path, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.post(path, headers=headers, **kwargs)

    def published(self, **fields):
        return self.desk.create(**fields)

    def amend(self, statement, if_match=None, **changes):
        version = if_match or f'"{statement["version"]}"'
        return self.post(
            f"/api/statements/{statement['id']}/amendments",
            json=changes,
            headers={"If-Match": version},
        )


def client_disconnected(c: Caller):
    """A body shorter than the Content-Length it announced."""
    return c.client.post(
        "/api/statements",
        headers=c.headers,
        content_type="application/json",
        input_stream=io.BytesIO(b'{"title": '),
        environ_overrides={"CONTENT_LENGTH": "1000"},
    )


def many_failed_authentications(c: Caller):
    bad = {"Authorization": "Bearer pf_nobody_wrong"}
    for _ in range(c.services.settings.auth_failures_per_minute):
        c.client.get("/api/statements", headers=bad)
    return c.client.get("/api/statements", headers=bad)


def broken_views(c: Caller):
    # Renamed, not dropped: PostgreSQL refuses to drop what SQL views read.
    c.services.views.execute(
        'ALTER TABLE {t} RENAME TO "pf_catalogue_gone"', t="pf_catalogue"
    )
    return c.client.get("/api/statements", headers=c.headers)


def slug_taken(c: Caller):
    c.published(slug="visa-hours")
    return c.post(
        "/api/statements",
        json={"title": "t", "body": "b", "kind": "news", "slug": "visa-hours"},
    )


def translation_taken(c: Caller):
    c.published(slug="visa-hours")
    return c.post(
        "/api/statements",
        json={
            "title": "t",
            "body": "b",
            "kind": "news",
            "language": "en",
            "translation_of": "visa-hours",
        },
    )


def key_reused(c: Caller):
    key = {"Idempotency-Key": "k-1"}
    c.post(
        "/api/statements", json={"title": "a", "body": "b", "kind": "news"}, headers=key
    )
    return c.post(
        "/api/statements", json={"title": "c", "body": "d", "kind": "news"}, headers=key
    )


def retracted_then_amended(c: Caller):
    statement = c.published()
    statement = c.desk.retract(statement)
    return c.amend(statement, title="Back again", change_note="Restored")


def draft_scheduled_in_the_past(c: Caller):
    draft = c.post(
        "/api/statements",
        json={"title": "a", "body": "b", "kind": "news", "draft": True},
    ).get_json()
    return c.client.put(
        f"/api/statements/{draft['id']}/schedule",
        json={"publish_at": EARLIER},
        headers=c.headers,
    )


def own_text_published(c: Caller):
    """With a second pair of eyes required, the author publishes their own text."""
    c.services.press_office.second_pair_of_eyes = True
    return c.post(
        "/api/statements", json={"title": "Mine", "body": "All mine.", "kind": "news"}
    )


def store_refusing_writes(c: Caller):
    """A create while the store refuses every write, as a read-only SQLite file
    or a PostgreSQL hot standby does: SQLite's pooled connections made
    query_only, PostgreSQL's reopened with read-only transactions."""
    datastore = c.services.press_office.recorder.datastore
    if c.services.settings.uses_postgres:
        datastore.pool.kwargs["options"] = "-c default_transaction_read_only=on"
        datastore.pool.drain()
    else:
        for connection in datastore.pool._pool:  # the idle ones: no public hook
            connection._sqlite_conn.execute("PRAGMA query_only = ON")
    return c.post("/api/statements", json={"title": "t", "body": "b", "kind": "news"})


def views_left_behind(c: Caller):
    """Readiness while no worker follows the log and a command was recorded."""
    c.services.worker.stop()
    c.post("/api/statements", json={"title": "t", "body": "b", "kind": "news"})
    return c.client.get("/healthz?ready")


def draft(c: Caller) -> dict:
    return c.post(
        "/api/statements",
        json={"title": "a", "body": "b", "kind": "news", "draft": True},
    ).get_json()


def create(**fields) -> Callable[[Caller], object]:
    body = {"title": "Consulate closed", "body": "On Monday.", "kind": "news", **fields}
    return lambda c: c.post("/api/statements", json=body)


REQUESTS: dict[str, Callable[[Caller], object]] = {
    "bad-request": client_disconnected,
    "malformed-json": lambda c: c.post(
        "/api/statements", data="{", content_type="application/json"
    ),
    "bad-if-match": lambda c: c.amend(c.published(), if_match="v2", title="x"),
    "bad-idempotency-key": lambda c: c.post(
        "/api/statements",
        json={"title": "t", "body": "b", "kind": "news"},
        headers={"Idempotency-Key": "two words"},
    ),
    "bad-cursor": lambda c: c.client.get(
        "/api/statements?cursor=abc", headers=c.headers
    ),
    "bad-page": lambda c: c.client.get("/messages?page=first"),
    "bad-search": lambda c: c.client.get("/feeds/search.atom?q=+-+"),
    "bad-filter": lambda c: c.client.get("/messages?year=2017&month=13"),
    "bad-accept-datetime": lambda c: c.client.get(
        f"/statements/{c.published()['slug']}", headers={"Accept-Datetime": "soon"}
    ),
    "bad-tree-query": lambda c: c.client.get("/audit/proof/inclusion?index=3&size=3"),
    "beyond-tree-size": lambda c: c.client.get(
        "/audit/proof/consistency?from=1&to=1000000"
    ),
    "payload-too-large": lambda c: c.post(
        "/api/statements",
        data=b" " * (2 * 1024 * 1024),
        content_type="application/json",
    ),
    "unsupported-media-type": lambda c: c.post(
        "/api/statements", data="title=x", content_type="text/plain"
    ),
    "invalid-fields": create(title=""),
    "precondition-required": lambda c: c.post(
        f"/api/statements/{c.published()['id']}/amendments",
        json={"title": "x", "change_note": "y"},
    ),
    "unauthorized": lambda c: c.client.get("/api/statements"),
    "forbidden": lambda c: c.client.get("/audit/verify", headers=c.headers),
    "too-many-failed-authentications": many_failed_authentications,
    "not-found": lambda c: c.client.get(
        f"/api/statements/{uuid.uuid4()}", headers=c.headers
    ),
    "method-not-allowed": lambda c: c.client.delete(
        "/api/statements", headers=c.headers
    ),
    "stale-version": lambda c: c.amend(
        c.published(), if_match='"1"', title="x", change_note="y"
    ),
    "retracted": retracted_then_amended,
    "already-published": lambda c: c.post(
        f"/api/statements/{c.published()['id']}/publication"
    ),
    "not-published": lambda c: c.client.put(
        "/api/featured", json={"statement": draft(c)["id"]}, headers=c.headers
    ),
    "not-scheduled": lambda c: c.client.delete(
        f"/api/statements/{c.published()['id']}/schedule", headers=c.headers
    ),
    "slug-taken": slug_taken,
    "change-note-required": lambda c: c.amend(c.published(), title="No reason given"),
    "embargo-not-in-future": draft_scheduled_in_the_past,
    "publication-in-future": create(published_at=LATER),
    "nothing-to-amend": lambda c: c.amend(
        c.published(title="Same"), title="Same", change_note="No change"
    ),
    "unknown-kind": create(kind="tweet"),
    "unknown-language": create(language="de"),
    "unknown-original": create(translation_of="no-such-statement"),
    "translation-taken": translation_taken,
    "not-a-translation": lambda c: c.client.delete(
        f"/api/statements/{c.published()['id']}/translation", headers=c.headers
    ),
    "idempotency-key-reused": key_reused,
    "not-a-draft": lambda c: c.post(f"/api/statements/{c.published()['id']}/review"),
    "not-in-review": lambda c: c.post(f"/api/statements/{draft(c)['id']}/approval"),
    "second-pair-of-eyes-required": own_text_published,
    "no-signing-key": lambda c: c.client.get("/audit/checkpoint"),
    "store-unavailable": store_refusing_writes,
    "views-behind": views_left_behind,
    "internal-error": broken_views,
}


def test_every_problem_type_has_a_request_that_produces_it():
    assert set(REQUESTS) == set(PROBLEM_TYPES)


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_each_problem_type_is_answered_as_registered(
    client, publisher, auditor, desk, services, name
):
    problem = PROBLEM_TYPES[name]
    response = REQUESTS[name](Caller(client, publisher, auditor, desk, services))
    assert response.status_code == problem.status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["type"] == f"http://localhost/problems/{name}"
    assert (body["title"], body["status"]) == (problem.title, problem.status)
    explanation = client.get(f"/problems/{name}")
    assert explanation.status_code == 200
    assert str(escape(problem.meaning)) in explanation.get_data(as_text=True)
