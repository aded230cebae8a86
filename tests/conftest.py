"""Shared fixtures: real stores (a SQLite file, the PostgreSQL server), real tokens."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pressfeed.application import PressOffice
from pressfeed.assembly import Pressfeed
from pressfeed.config import Settings
from pressfeed.projections.runner import ProjectionWorker
from pressfeed.web import create_app

POSTGRES_URL = os.environ.get(
    "PRESSFEED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
UNDER_CI = os.environ.get("CI", "").lower() == "true"


def postgres_available() -> str | None:
    """None if the server answers, else why not."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL at {POSTGRES_URL} is unreachable: {error}"


def require_postgres() -> None:
    reason = postgres_available()
    if reason is None:
        return
    if UNDER_CI:
        pytest.fail(f"{reason} (CI=true: PostgreSQL is required)")
    pytest.skip(reason)


def require_program(command: str, package: str) -> None:
    """Skip (fail under CI) when a Debian program a test runs is not installed."""
    if shutil.which(command) or Path("/usr/sbin", command).exists():
        return
    reason = f"{command} is not installed (apt-get install {package})"
    if UNDER_CI:
        pytest.fail(f"{reason} and CI=true requires it")
    pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema on the real PostgreSQL server, dropped afterwards."""
    require_postgres()
    schema = f"pf_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{POSTGRES_URL}?schema={schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def make_settings(tmp_path, database_url: str | None = None, **env: str) -> Settings:
    values = {
        "PRESSFEED_INSTANCE_DIR": str(tmp_path / "instance"),
        "PRESSFEED_BASE_URL": "http://localhost",
        **env,
    }
    if database_url:
        values["PRESSFEED_DATABASE_URL"] = database_url
    return Settings.from_env(values)


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request, tmp_path) -> Settings:
    """The same tests on a SQLite file and on the PostgreSQL server."""
    if request.param == "postgres":
        return make_settings(tmp_path, request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


@pytest.fixture
def sqlite_settings(tmp_path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def press_office(settings) -> Iterator[PressOffice]:
    app = PressOffice(env=settings.eventsourcing_env(), kinds=settings.kinds)
    yield app
    app.close()


@pytest.fixture
def services(settings) -> Iterator[Pressfeed]:
    """Application, views, tokens, and a running projection worker."""
    services = Pressfeed(settings)
    services.attach_worker(
        ProjectionWorker(services.press_office, services.views, poll_interval=0.02)
    )
    services.worker.start()
    yield services
    services.close()


@pytest.fixture
def client(services):
    return create_app(services=services).test_client()


@pytest.fixture
def publisher(services) -> dict[str, str]:
    """Authorization headers of a publisher named press-office."""
    token = services.tokens.create("press-office", "publisher")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auditor(services) -> dict[str, str]:
    token = services.tokens.create("auditor", "auditor")
    return {"Authorization": f"Bearer {token}"}
