"""Review and approval through the API, and the second pair of eyes over the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pressfeed.application import NewStatement


def draft(client, headers, title="Visa hours"):
    response = client.post(
        "/api/statements",
        json={"title": title, "body": "Nine to five.", "kind": "news", "draft": True},
        headers=headers,
    )
    assert response.status_code == 201
    return response.get_json()


def test_a_draft_in_review_is_approved_and_published_in_one_command(client, publisher):
    statement = draft(client, publisher)
    submitted = client.post(
        f"/api/statements/{statement['id']}/review", headers=publisher
    )
    assert submitted.status_code == 200
    assert submitted.get_json()["review"]["in_review"] is True
    approved = client.post(
        f"/api/statements/{statement['id']}/approval", headers=publisher
    )
    assert approved.status_code == 200
    body = approved.get_json()
    assert body["status"] == "published"
    assert body["review"] == {
        "text_author": "press-office",
        "requested_by": "press-office",
        "requested_at": submitted.get_json()["review"]["requested_at"],
        "approved_by": "press-office",
        "in_review": False,
    }


def test_approval_with_publish_at_schedules(client, publisher):
    statement = draft(client, publisher)
    client.post(f"/api/statements/{statement['id']}/review", headers=publisher)
    later = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    approved = client.post(
        f"/api/statements/{statement['id']}/approval",
        json={"publish_at": later.isoformat()},
        headers=publisher,
    )
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "scheduled"


def test_with_a_second_pair_of_eyes_the_author_cannot_publish_their_text(
    client, publisher, services
):
    services.press_office.second_pair_of_eyes = True
    other = {
        "Authorization": f"Bearer {services.tokens.create('second-officer', 'publisher')}"
    }
    statement = draft(client, publisher)
    refused = client.post(
        f"/api/statements/{statement['id']}/publication", headers=publisher
    )
    assert refused.status_code == 409
    assert refused.get_json()["type"].endswith("/second-pair-of-eyes-required")
    assert (
        services.press_office.get_statement(
            services.press_office.find_statement(statement["id"]).id
        ).status
        == "draft"
    )
    published = client.post(
        f"/api/statements/{statement['id']}/publication", headers=other
    )
    assert published.status_code == 200
    version = {"If-Match": f'"{published.get_json()["version"]}"'}
    for who, status in ((publisher, 409), (other, 200)):
        withdrawal = client.post(
            f"/api/statements/{statement['id']}/retraction",
            json={"reason": "In error"},
            headers={**who, **version},
        )
        assert withdrawal.status_code == status  # only another than the author


def test_imports_of_past_statements_need_no_second_pair_of_eyes(services):
    services.press_office.second_pair_of_eyes = True
    [imported] = services.press_office.import_statements(
        [
            NewStatement(
                title="Old",
                body="From 2019.",
                kind="news",
                published_at=datetime(2019, 1, 1, tzinfo=UTC),
            )
        ],
        actor="import",
    )
    assert imported.status == "published"
