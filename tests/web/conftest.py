"""Helpers for reading the public side: publish through the API, wait for the views."""

from __future__ import annotations

import pytest


class Desk:
    """A press officer at the API, who waits for the views after each command."""

    def __init__(self, client, headers, services) -> None:
        self.client, self.headers, self.services = client, headers, services

    def settle(self) -> None:
        head = self.services.press_office.recorder.max_notification_id() or 0
        assert self.services.worker.wait_until(head, timeout=10)
        self.services.await_views()  # and this process sees it at once

    def create(self, title="Trade fair in Lyon", body="We will **attend**.", **fields):
        response = self.client.post(
            "/api/statements",
            json={"title": title, "body": body, "kind": "news", **fields},
            headers=self.headers,
        )
        assert response.status_code == 201, response.get_json()
        self.settle()
        return response.get_json()

    def amend(self, statement, change_note="Corrected", minor=False, **changes):
        response = self.client.post(
            f"/api/statements/{statement['id']}/amendments",
            json={**changes, "change_note": change_note, "minor": minor},
            headers={**self.headers, "If-Match": f'"{statement["version"]}"'},
        )
        assert response.status_code == 200, response.get_json()
        self.settle()
        return response.get_json()

    def retract(self, statement, reason="Published in error"):
        response = self.client.post(
            f"/api/statements/{statement['id']}/retraction",
            json={"reason": reason},
            headers={**self.headers, "If-Match": f'"{statement["version"]}"'},
        )
        assert response.status_code == 200, response.get_json()
        self.settle()
        return response.get_json()


@pytest.fixture
def desk(client, publisher, services) -> Desk:
    return Desk(client, publisher, services)
