"""Token lifecycle: list, revoke (refused at once by every process), failed
authentications logged and limited, and tokens never written to a log."""

from __future__ import annotations

import requests

from tests.helpers import Server, create_token, run_cli, token_secret


def test_token_list_shows_names_and_roles_but_no_secret(sqlite_settings):
    publisher = create_token(sqlite_settings, "publisher", "press-office")
    create_token(sqlite_settings, "auditor", "audit-office")
    listing = run_cli(sqlite_settings, "token", "list").stdout
    assert "press-office\tpublisher" in listing
    assert "audit-office\tauditor" in listing
    assert token_secret(publisher) not in listing


def test_a_revoked_token_is_refused_at_once_by_a_running_server(sqlite_settings):
    token = create_token(sqlite_settings, "publisher", "leaver")
    headers = {"Authorization": f"Bearer {token}"}
    server = Server(sqlite_settings)
    try:
        assert (
            requests.get(
                f"{server.url}/api/statements", headers=headers, timeout=5
            ).status_code
            == 200
        )
        assert "Revoked" in run_cli(sqlite_settings, "token", "revoke", "leaver").stdout
        refused = requests.get(
            f"{server.url}/api/statements", headers=headers, timeout=5
        )
        assert refused.status_code == 401
        assert refused.headers["Content-Type"] == "application/problem+json"
    finally:
        server.stop()
    assert "revoked" in run_cli(sqlite_settings, "token", "list").stdout
    again = run_cli(sqlite_settings, "token", "revoke", "leaver", check=False)
    assert again.returncode != 0
    assert create_token(
        sqlite_settings, "publisher", "leaver"
    )  # the name is free again


def test_failed_authentications_are_logged_limited_and_tokens_never_logged(
    sqlite_settings, tmp_path
):
    token = create_token(sqlite_settings)
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        server = Server(
            sqlite_settings, log_file=log_file, PRESSFEED_AUTH_FAILURES_PER_MINUTE="5"
        )
        try:
            good = {"Authorization": f"Bearer {token}"}
            created = requests.post(
                f"{server.url}/api/statements",
                json={"title": "Logged?", "body": "x", "kind": "news"},
                headers=good,
                timeout=5,
            )
            assert created.status_code == 201
            statuses = [
                requests.get(
                    f"{server.url}/api/statements",
                    headers={"Authorization": f"Bearer pf_guess{n}_{'x' * 20}"},
                    timeout=5,
                ).status_code
                for n in range(7)
            ]
            assert statuses[:5] == [401] * 5
            assert statuses[5:] == [429, 429]
            limited = requests.get(
                f"{server.url}/api/statements",
                headers={"Authorization": "Bearer pf_x_y"},
                timeout=5,
            )
            assert limited.status_code == 429
            assert int(limited.headers["Retry-After"]) >= 1
            still_works = requests.get(
                f"{server.url}/api/statements", headers=good, timeout=5
            )
            assert still_works.status_code == 200  # a valid token is never locked out
            assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
        finally:
            server.stop()
    log = log_path.read_text()
    assert "Failed authentication from 127.0.0.1" in log
    assert token not in log
    assert token_secret(token) not in log
    assert "pf_guess" not in log
