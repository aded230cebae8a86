"""The front page: a featured statement in full under its heading, then the
latest as teasers; featuring is a publisher's command recorded in the log."""

from __future__ import annotations

import time

import lxml.html
import pytest

from pressfeed.aggregates import FrontPage

PROBLEM = "application/problem+json"


def front(client):
    response = client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 200
    return lxml.html.fromstring(response.data)


def first_title(tree) -> str:
    return tree.cssselect(".newest h2")[0].text_content()


def feature(client, publisher, statement: str):
    return client.put("/api/featured", json={"statement": statement}, headers=publisher)


@pytest.fixture
def two(desk):
    interview = desk.create(
        title="Interview of 2017",
        body="Question: How?\n\nAnswer: Like this.",
        kind="interview",
        published_at="2017-05-01T10:00:00+00:00",
    )
    news = desk.create(title="News of today", body="First words.\n\nMore words.")
    return interview, news


def test_featuring_an_older_statement_puts_it_first_in_full(
    client, publisher, desk, two
):
    interview, news = two
    tree = front(client)
    assert tree.cssselect("h1.front-heading")[0].text == "Press releases and news"
    assert first_title(tree) == "News of today"

    response = feature(client, publisher, interview["slug"])
    assert response.status_code == 200
    assert response.get_json()["id"] == interview["id"]
    desk.settle()
    tree = front(client)
    assert first_title(tree) == "Interview of 2017"
    assert tree.cssselect(".newest .body p.question")
    teasers = tree.cssselect(".latest article.teaser")
    assert [t.cssselect("h3")[0].text_content() for t in teasers] == [
        f"{news['published_at'][8:10]}.{news['published_at'][5:7]}."
        f"{news['published_at'][:4]} - News of today"
    ]
    assert "First words." in teasers[0].text_content()
    assert "More words." not in teasers[0].text_content()
    assert teasers[0].cssselect("a.read-more")[0].text == "Read more"

    unfeatured = client.delete("/api/featured", headers=publisher)
    assert unfeatured.status_code == 204 and "Content-Type" not in unfeatured.headers
    desk.settle()
    assert first_title(front(client)) == "News of today"


def test_featuring_changes_the_front_pages_validators(client, publisher, desk, two):
    interview, _ = two
    before = client.get("/")
    feature(client, publisher, interview["id"])
    desk.settle()
    after = client.get("/", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]


def test_a_withdrawn_statement_stops_being_featured(client, publisher, desk, two):
    interview, _ = two
    feature(client, publisher, interview["slug"])
    desk.settle()
    desk.retract(interview)
    assert first_title(front(client)) == "News of today"


def test_only_a_published_statement_can_be_featured(client, publisher, desk):
    draft = desk.create(title="Draft", draft=True)
    response = feature(client, publisher, draft["id"])
    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    assert response.get_json()["type"].endswith("/not-published")
    assert feature(client, publisher, "no-such-slug").status_code == 404
    assert client.put("/api/featured", json={}, headers=publisher).status_code == 422
    assert (
        client.put("/api/featured", json={"statement": draft["id"]}).status_code == 401
    )


def test_featuring_is_in_the_audit_log_and_the_chain(
    client, publisher, auditor, desk, services, two
):
    interview, _ = two
    feature(client, publisher, interview["slug"])
    client.delete("/api/featured", headers=publisher)
    client.delete("/api/featured", headers=publisher)  # nothing to unfeature: no event
    lines = (
        client.get("/audit/log", headers=auditor).get_data(as_text=True).splitlines()
    )
    import json

    records = [json.loads(line) for line in lines]
    front_page = [r for r in records if r["statement_id"] == str(FrontPage.create_id())]
    assert [r["type"] for r in front_page] == ["Opened", "Featured", "Unfeatured"]
    assert front_page[1]["payload"]["statement_id"] == interview["id"]
    assert front_page[1]["actor"] == "press-office"
    assert all(r["hash"] for r in front_page)
    report = client.get(
        "/audit/verify", headers={**auditor, "Accept": "application/json"}
    )
    assert report.get_json()["ok"] is True


def test_a_draft_leaves_the_front_pages_bytes_and_etag_alone(client, desk, two):
    """The clocks show the minute: a rendering for a draft, later in the same
    minute, is the same bytes."""
    for attempt in range(3):
        minute = int(time.time() // 60)
        before = client.get("/")
        time.sleep(1.1)  # the next second
        desk.create(title=f"A draft {attempt}", draft=True)
        after = client.get("/")
        if int(time.time() // 60) == minute:
            assert after.headers["ETag"] == before.headers["ETag"]
            assert after.data == before.data
            return
    pytest.fail("the minute turned during each of three attempts")
