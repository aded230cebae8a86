"""The auditor's view: history, versions, time travel, export, verification; and the
public versions and Memento, which never reveal a draft or a withdrawn text."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import lxml.html
import pytest


@pytest.fixture
def settings(sqlite_settings):
    return sqlite_settings


@pytest.fixture
def audit_headers(auditor) -> dict[str, str]:
    return {**auditor, "Accept": "application/json"}


def history(client, audit_headers, statement) -> list[dict]:
    response = client.get(f"/audit/statements/{statement['id']}", headers=audit_headers)
    assert response.status_code == 200
    return response.get_json()["events"]


def test_history_shows_every_event_with_who_when_why_diff_and_hash(
    client, desk, audit_headers, services
):
    statement = desk.create(title="Visa times", body="Ten days.")
    statement = desk.amend(statement, "Faster now", body="Seven days.")
    desk.retract(statement, reason="Superseded")
    events = history(client, audit_headers, statement)
    assert [e["type"] for e in events] == [
        "Drafted",
        "Published",
        "Amended",
        "Retracted",
    ]
    assert [e["version"] for e in events] == [1, 2, 3, 4]
    assert all(e["actor"] == "press-office" for e in events)
    amended = events[2]
    assert amended["change_note"] == "Faster now"
    assert amended["fields"]["body"] == {"from": "Ten days.", "to": "Seven days."}
    assert "-Ten days.\n+Seven days." in amended["diff"]
    assert events[3]["reason"] == "Superseded"
    positions = [e["position"] for e in events]
    assert positions == sorted(positions)
    for entry in events:
        before = services.ledger.link_at(entry["position"] - 1)
        assert entry["prev_hash"] == (before.hash if before else "0" * 64)
    for entry in events:
        datetime.fromisoformat(entry["recorded_at"])
        assert len(entry["hash"]) == 64


def test_history_shows_the_embargo_kept(client, desk, audit_headers, services):
    embargo = datetime.now(UTC) + timedelta(seconds=0.5)
    statement = desk.create(title="Embargoed", publish_at=embargo.isoformat())
    time.sleep(0.6)
    services.press_office.publish_embargoed(
        __import__("uuid").UUID(statement["id"]),
        planned_at=embargo.replace(microsecond=embargo.microsecond),
    )
    events = history(client, audit_headers, statement)
    scheduled = next(e for e in events if e["type"] == "Scheduled")
    published = next(e for e in events if e["type"] == "Published")
    assert datetime.fromisoformat(scheduled["fields"]["publish_at"]["to"]) == embargo
    planned = datetime.fromisoformat(
        scheduled["fields"]["planned_publication_at"]["to"]
    )
    assert "planned_publication_at" not in published["fields"]  # kept, not changed
    actual = datetime.fromisoformat(published["fields"]["published_at"]["to"])
    assert planned == embargo <= actual
    assert published["actor"] == "scheduler"


def test_versions_and_as_of_reproduce_the_exact_earlier_text(
    client, desk, audit_headers
):
    statement = desk.create(title="Original title", body="Original body.")
    between = datetime.now(UTC)
    time.sleep(0.01)
    desk.amend(statement, "New", title="New title", body="New body.")
    base = f"/audit/statements/{statement['id']}"
    v2 = client.get(f"{base}/versions/2", headers=audit_headers).get_json()
    assert (v2["title"], v2["body"], v2["version"]) == (
        "Original title",
        "Original body.",
        2,
    )
    v3 = client.get(f"{base}/versions/3", headers=audit_headers).get_json()
    assert (v3["title"], v3["body"]) == ("New title", "New body.")
    then = client.get(
        f"{base}/state",
        query_string={"as_of": between.isoformat()},
        headers=audit_headers,
    )
    assert (then.get_json()["title"], then.get_json()["body"]) == (
        "Original title",
        "Original body.",
    )
    assert client.get(f"{base}/versions/4", headers=audit_headers).status_code == 404
    assert client.get(f"{base}/versions/0", headers=audit_headers).status_code == 404
    before = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert (
        client.get(
            f"{base}/state", query_string={"as_of": before}, headers=audit_headers
        ).status_code
        == 404
    )
    naive = client.get(
        f"{base}/state",
        query_string={"as_of": "2026-01-01T10:00:00"},
        headers=audit_headers,
    )
    assert naive.status_code == 422 and naive.mimetype == "application/problem+json"


def test_public_versions_show_only_what_was_public(client, desk):
    statement = desk.create(title="Draft title", body="Draft text.", draft=True)
    statement = desk.amend(statement, "Ready", body="Published text.")
    published = desk.client.post(
        f"/api/statements/{statement['id']}/publication", headers=desk.headers
    )
    desk.settle()
    statement = published.get_json()
    desk.amend(statement, "Corrected", body="Corrected text.")
    slug = statement["slug"]
    for draft_version in (1, 2):
        response = client.get(f"/statements/{slug}/versions/{draft_version}")
        assert response.status_code == 404
        assert b"Draft text" not in response.data
    v3 = client.get(f"/statements/{slug}/versions/3")
    assert v3.status_code == 200 and b"Published text." in v3.data
    assert "Memento-Datetime" in v3.headers
    since = lxml.html.fromstring(v3.data).cssselect(".memento")[0].text_content()
    assert re.search(r"public from \S+ \d\d:\d\d \S+\.", since), since  # its time too
    assert b"Corrected text." in client.get(f"/statements/{slug}/versions/4").data


def test_a_withdrawn_statement_has_no_public_versions(client, desk):
    statement = desk.create(title="Advice", body="Withdrawn text.")
    desk.retract(statement)
    response = client.get(f"/statements/{statement['slug']}/versions/2")
    assert response.status_code == 410
    assert b"Withdrawn text." not in response.data
    memento = client.get(
        f"/statements/{statement['slug']}",
        headers={"Accept-Datetime": format_datetime(datetime.now(UTC), usegmt=True)},
    )
    assert memento.status_code == 410 and b"Withdrawn text." not in memento.data


def test_memento_gives_the_state_public_at_a_time(client, desk):
    statement = desk.create(title="Hours", body="Open at nine.")
    time.sleep(1.1)
    first_public = datetime.now(UTC)
    time.sleep(1.1)
    desk.amend(statement, "Earlier", body="Open at eight.")
    slug = statement["slug"]
    then = client.get(
        f"/statements/{slug}",
        headers={"Accept-Datetime": format_datetime(first_public, usegmt=True)},
    )
    assert then.status_code == 200
    assert b"Open at nine." in then.data and b"Open at eight." not in then.data
    assert then.headers["Memento-Datetime"]
    assert 'rel="original timegate"' in then.headers["Link"]
    assert "Accept-Datetime" in then.vary
    now = client.get(f"/statements/{slug}")
    assert b"Open at eight." in now.data and "Accept-Datetime" in now.vary
    long_ago = format_datetime(datetime.now(UTC) - timedelta(days=30), usegmt=True)
    assert (
        client.get(
            f"/statements/{slug}", headers={"Accept-Datetime": long_ago}
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/statements/{slug}", headers={"Accept-Datetime": "yesterday"}
        ).status_code
        == 400
    )


def test_a_versions_own_memento_datetime_finds_that_version(client, desk):
    """Memento-Datetime is whole seconds: asking for it must not give the
    version before, recorded earlier in that second."""
    statement = desk.create(title="Hours", body="Open at nine.")
    slug = statement["slug"]
    published = client.get(f"/statements/{slug}/versions/2")
    then = client.get(
        f"/statements/{slug}",
        headers={"Accept-Datetime": published.headers["Memento-Datetime"]},
    )
    assert then.status_code == 200
    assert then.headers["Content-Location"].endswith("/versions/2")
    assert b"Open at nine." in then.data


def test_the_log_exports_as_ndjson_in_order_with_hashes(
    client, desk, audit_headers, services
):
    for i in range(3):
        desk.create(title=f"Export {i}")
    response = client.get("/audit/log", headers=audit_headers)
    assert response.mimetype == "application/x-ndjson"
    records = [
        json.loads(line) for line in response.get_data(as_text=True).splitlines()
    ]
    assert [r["position"] for r in records] == list(range(1, len(records) + 1))
    assert len(records) == services.press_office.recorder.max_notification_id()
    drafted = next(r for r in records if r["type"] == "Drafted")
    assert (
        drafted["payload"]["title"] == "Export 0" and drafted["actor"] == "press-office"
    )
    assert all(len(r["hash"]) == 64 for r in records)
    page = client.get("/audit/log?after=2&limit=3", headers=audit_headers).get_data(
        as_text=True
    )
    assert [json.loads(line)["position"] for line in page.splitlines()] == [3, 4, 5]
    assert client.get("/audit/log?after=-1", headers=audit_headers).status_code == 422


def test_verify_and_head(client, desk, audit_headers, services):
    desk.create()
    assert client.get("/audit/verify", headers=audit_headers).get_json()["ok"] is True
    head = client.get("/audit/head").get_json()
    assert head["position"] == services.press_office.recorder.max_notification_id()
    assert len(head["hash"]) == 64
    # The head is witnessed at /audit/head only: a feed that carried it would
    # change with every private event (a draft) and show that the office drafts.
    assert head["hash"].encode() not in client.get("/feeds/all.atom").data


def test_verify_names_a_tree_node_the_chain_does_not_make(
    client, desk, audit_headers, services
):
    for _ in range(3):
        desk.create()
    services.ledger.tables.execute(
        "UPDATE {t} SET hash = zeroblob(32) WHERE level = 1 AND idx = 2", t="pf_tree"
    )
    report = client.get("/audit/verify", headers=audit_headers).get_json()
    assert report["ok"] is False and report["first_bad"] is None
    assert (report["tree_ok"], report["first_bad_node"]) == (False, [1, 2])
    page = lxml.html.fromstring(
        client.get(
            "/audit/verify", headers={**audit_headers, "Accept": "text/html"}
        ).data
    )
    alert = page.cssselect("[role=alert]")[0].text_content()
    assert "Merkle tree does not" in alert and "level 1, index 2" in alert


AUDIT_PATHS = [
    "/audit/statements/{id}",
    "/audit/statements/{id}/versions/1",
    "/audit/statements/{id}/state?as_of=2030-01-01T00:00:00Z",
    "/audit/log",
    "/audit/verify",
]


def test_every_audit_path_needs_the_auditor_role(client, desk, publisher):
    statement = desk.create()
    for template in AUDIT_PATHS:
        path = template.format(id=statement["id"])
        assert client.get(path).status_code == 401, path
        forbidden = client.get(path, headers=publisher)
        assert forbidden.status_code == 403, path
        assert forbidden.mimetype == "application/problem+json"
    assert client.get("/audit/head").status_code == 200


def test_the_auditor_history_page_in_html(client, desk, auditor):
    statement = desk.create(title="Visa times", body="Ten days.")
    desk.amend(statement, "Faster now", body="Seven days.")
    response = client.get(
        f"/audit/statements/{statement['id']}",
        headers={**auditor, "Accept": "text/html"},
    )
    assert response.mimetype == "text/html"
    tree = lxml.html.fromstring(response.data)
    assert len(tree.cssselect(".audit-event")) == 3
    amended = tree.cssselect(".audit-event")[2]
    assert amended.cssselect(".note")[0].text_content() == "Faster now"
    assert amended.cssselect(".diff .removed")[0].text_content() == "-Ten days."
    assert amended.cssselect(".diff .added")[0].text_content() == "+Seven days."
    assert tree.cssselect(f"a[href='/audit/statements/{statement['id']}/versions/3']")


def test_a_statement_is_audited_by_its_slug_too(client, desk, audit_headers):
    statement = desk.create(title="Visa hours", slug="visa-hours")
    by_id = f"/audit/statements/{statement['id']}"
    for asked, meant in [
        ("/audit/statements/visa-hours", by_id),
        ("/audit/statements/visa-hours/versions/1", by_id + "/versions/1"),
        (
            "/audit/statements/visa-hours/state?as_of=2030-01-01T00:00:00Z",
            by_id + "/state?as_of=2030-01-01T00:00:00Z",
        ),
    ]:
        answer = client.get(asked, headers=audit_headers)
        assert answer.status_code == 308 and answer.location == meant
        assert client.get(meant, headers=audit_headers).status_code == 200
    quoted = client.get("/audit/statements/visa-hours/a%3Fb", headers=audit_headers)
    assert quoted.location == by_id + "/a%3Fb"  # a path stays a path
    for no_page in (by_id + "/nope", by_id + "/versions/1/", by_id + "/state/"):
        answer = client.get(no_page, headers=audit_headers)  # never to itself
        assert answer.status_code == 404, no_page
    missing = client.get("/audit/statements/no-such-slug", headers=audit_headers)
    assert missing.status_code == 404
    assert missing.content_type == "application/problem+json"
    assert client.get("/audit/statements/visa-hours").status_code == 401


def test_the_previous_hash_links_a_version_only_when_it_is_that_versions_hash(
    client, desk, auditor, audit_headers
):
    """The chain runs through the whole log: the hash before an amendment is
    often another statement's event, not this statement's previous version."""
    statement = desk.create(title="Visa times", body="Ten days.")
    desk.create(title="Another statement in between")
    desk.amend(statement, "Faster now", body="Seven days.")
    events = {e["version"]: e for e in history(client, audit_headers, statement)}
    page = client.get(
        f"/audit/statements/{statement['id']}",
        headers={**auditor, "Accept": "text/html"},
    )
    tree = lxml.html.fromstring(page.data)
    for version, entry in events.items():
        (item,) = tree.xpath(f"//li[@id='v{version}']")
        links = item.xpath(".//dt[.='Previous hash']/following-sibling::dd[1]/a/@href")
        linked = [v for v, e in events.items() if e["hash"] == entry["prev_hash"]]
        assert links == [f"#v{v}" for v in linked], version
    assert events[3]["prev_hash"] != events[2]["hash"]  # the case that was wrong


def test_an_auditor_recomputes_every_link_from_the_log_alone(
    client, desk, audit_headers
):
    """The README's recipe, by hand: each record carries what its hash covers,
    and each hash is the next record's prev_hash."""
    statement = desk.create(title="Recomputed")
    desk.amend(statement, "Reworded", body="Other words.")
    lines = client.get("/audit/log", headers=audit_headers).get_data(as_text=True)
    previous = "0" * 64
    for record in map(json.loads, lines.splitlines()):
        head = "\0".join(
            [
                record["prev_hash"],
                str(record["position"]),
                record["statement_id"],
                str(record["version"]),
                record["topic"],
                "",
            ]
        )
        content = head.encode() + base64.b64decode(record["state"])
        assert record["prev_hash"] == previous
        assert hashlib.sha256(content).hexdigest() == record["hash"]
        previous = record["hash"]
