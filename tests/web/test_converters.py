"""Numbers in addresses: each number has one address."""

from __future__ import annotations

import pytest


@pytest.fixture
def settings(sqlite_settings):
    return sqlite_settings


def test_a_number_has_one_address_without_leading_zeros(client, desk, auditor):
    statement = desk.create(title="Visa hours")
    version = statement["version"]
    for path, headers in (
        (f"/statements/{statement['slug']}/versions/", {}),
        (f"/audit/statements/{statement['id']}/versions/", auditor),
    ):
        assert client.get(f"{path}{version}", headers=headers).status_code == 200
        assert client.get(f"{path}0{version}", headers=headers).status_code == 404
    assert client.get("/feeds/archive/01.atom").status_code == 404
    assert client.get("/sitemaps/01.xml").status_code == 404


def test_a_number_no_store_can_hold_is_not_found(client, desk, auditor):
    statement = desk.create(title="Visa hours")
    huge = "9" * 30
    for path in (
        f"/statements/{statement['slug']}/versions/{huge}",
        f"/audit/statements/{statement['id']}/versions/{huge}",
        f"/feeds/archive/{huge}.atom",
        f"/sitemaps/{huge}.xml",
    ):
        assert client.get(path, headers=auditor).status_code == 404, path
