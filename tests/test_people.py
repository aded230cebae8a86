"""Accounts and sessions of the desk, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from argon2 import PasswordHasher

from pressfeed.people import (
    PEOPLE,
    SESSIONS,
    BadPassword,
    PeopleRegistry,
    PersonNameTaken,
    PersonNotFound,
)
from pressfeed.storage import Tables, tables_of

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def tables(press_office) -> Tables:
    return tables_of(press_office.recorder)


@pytest.fixture
def people(tables) -> PeopleRegistry:
    return PeopleRegistry(tables, hasher=FAST)


def test_create_and_verify_a_password(people, tables):
    assert people.create("anna", "writer", "correct horse") is None
    person = people.verify_password("anna", "correct horse")
    assert (person.name, person.role) == ("anna", "writer")
    assert not person.must_change_password and not person.totp_enabled
    assert people.verify_password("anna", "wrong horse") is None
    assert people.verify_password("nobody", "correct horse") is None
    stored = tables.query("SELECT password_hash FROM {t}", t=PEOPLE)[0]
    assert stored["password_hash"].startswith("$argon2id$")
    assert "correct horse" not in stored["password_hash"]


def test_names_are_unique_and_roles_known(people):
    people.create("anna", "writer", "correct horse")
    with pytest.raises(PersonNameTaken):
        people.create("anna", "publisher", "another one")
    with pytest.raises(ValueError, match="role"):
        people.create("bob", "editor", "correct horse")
    with pytest.raises(ValueError, match="name"):
        people.create("bob/../x", "writer", "correct horse")
    with pytest.raises(BadPassword):
        people.create("bob", "writer", "short")
    assert [p.name for p in people.list()] == ["anna"]


def test_a_one_time_password_must_be_changed(people):
    one_time = people.create("anna", "writer", None)
    assert one_time and len(one_time) >= 12
    person = people.verify_password("anna", one_time)
    assert person.must_change_password
    people.change_password("anna", "my own password")
    assert people.verify_password("anna", one_time) is None
    assert not people.verify_password("anna", "my own password").must_change_password


def test_a_hash_with_old_parameters_is_replaced_at_sign_in(tables):
    PeopleRegistry(tables, hasher=FAST).create("anna", "writer", "correct horse")
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    people = PeopleRegistry(tables, hasher=stronger)
    old = tables.query("SELECT password_hash FROM {t}", t=PEOPLE)[0]["password_hash"]
    assert stronger.check_needs_rehash(old)
    assert people.verify_password("anna", "correct horse") is not None
    new = tables.query("SELECT password_hash FROM {t}", t=PEOPLE)[0]["password_hash"]
    assert new != old and not stronger.check_needs_rehash(new)
    assert people.verify_password("anna", "correct horse") is not None


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(people):
    people.create("anna", "writer", "correct horse")
    token = people.start_session("anna")
    assert people.session(token, 3600).name == "anna"
    people.disable("anna")
    assert people.verify_password("anna", "correct horse") is None
    assert people.session(token, 3600) is None
    assert people.get("anna").disabled
    with pytest.raises(PersonNotFound):
        people.disable("nobody")


def test_a_role_change_ends_the_sessions(people, tables):
    people.create("anna", "writer", "correct horse")
    first, second = people.start_session("anna"), people.start_session("anna")
    people.create("bob", "writer", "correct horse")
    bobs = people.start_session("bob")
    people.set_role("anna", "publisher")
    assert people.session(first, 3600) is None
    assert people.session(second, 3600) is None
    assert people.session(bobs, 3600).role == "writer"
    assert people.get("anna").role == "publisher"
    with pytest.raises(ValueError):
        people.set_role("anna", "emperor")


def test_a_password_change_ends_the_sessions(people):
    people.create("anna", "writer", "correct horse")
    token = people.start_session("anna")
    people.change_password("anna", "battery staple")
    assert people.session(token, 3600) is None


def test_sessions_store_only_a_hash_and_expire_when_idle(people, tables):
    people.create("anna", "writer", "correct horse")
    token = people.start_session("anna")
    rows = tables.query("SELECT token_hash, last_seen FROM {t}", t=SESSIONS)
    assert token not in rows[0]["token_hash"]
    assert people.session("not-a-token", 3600) is None

    def idle_for(seconds: float) -> None:
        seen = datetime.now(UTC) - timedelta(seconds=seconds)
        tables.execute(
            "UPDATE {t} SET last_seen = ?",
            (seen.isoformat(timespec="microseconds"),),
            t=SESSIONS,
        )

    idle_for(120)
    assert people.session(token, 3600).name == "anna"  # and marks it seen now
    last_seen = tables.query("SELECT last_seen FROM {t}", t=SESSIONS)[0]["last_seen"]
    assert datetime.now(UTC) - datetime.fromisoformat(last_seen) < timedelta(seconds=30)
    idle_for(3601)
    assert people.session(token, 3600) is None
    assert tables.query("SELECT 1 FROM {t}", t=SESSIONS) == []  # forgotten


def test_end_session_ends_only_that_one(people):
    people.create("anna", "writer", "correct horse")
    first, second = people.start_session("anna"), people.start_session("anna")
    people.end_session(first)
    assert people.session(first, 3600) is None
    assert people.session(second, 3600).name == "anna"


def test_totp_codes_are_checked_once_each(people):
    people.create("anna", "writer", "correct horse")
    assert not people.verify_totp("anna", "123456")
    uri = people.enable_totp("anna", issuer="Press Office")
    assert uri.startswith("otpauth://totp/") and "anna" in uri
    assert people.get("anna").totp_enabled
    totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    assert not people.verify_totp("anna", "000000" if totp.now() != "000000" else "1")
    code = totp.now()
    assert people.verify_totp("anna", code)
    assert not people.verify_totp("anna", code)  # not twice
    earlier = totp.at(datetime.now(UTC) - timedelta(seconds=30))
    assert not people.verify_totp("anna", earlier)  # nor an older one after it
    assert not people.verify_totp("nobody", code)


def test_the_tables_are_created_once(tables):
    PeopleRegistry(tables, hasher=FAST).create("anna", "writer", "correct horse")
    again = PeopleRegistry(tables, hasher=FAST)
    assert [p.name for p in again.list()] == ["anna"]
