"""A reader in a real headless Chromium: front page, all messages, a statement and
its change note. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from tests.conftest import UNDER_CI, make_settings
from tests.helpers import Server, create_token, run_cli

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if UNDER_CI:
            pytest.fail(message + " and CI=true requires it")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture
def demo_server(sqlite_settings):
    run_cli(sqlite_settings, "demo")
    server = Server(sqlite_settings)
    yield server
    server.stop()


def test_a_reader_follows_the_site_to_a_change_note(browser, demo_server):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    violations: list[str] = []
    page.on(
        "console",
        lambda m: (
            violations.append(m.text) if "Content Security Policy" in m.text else None
        ),
    )
    page.goto(demo_server.url + "/")
    assert page.locator(".clocks li").count() >= 1
    assert page.locator(".newest h2").inner_text()
    page.screenshot(path=str(ARTIFACTS / "front-page.png"), full_page=True)

    page.get_by_role("link", name="All messages").first.click()
    page.wait_for_url("**/messages")
    assert page.locator(".messages li").count() >= 15
    page.screenshot(path=str(ARTIFACTS / "all-messages.png"), full_page=True)

    amended = "Consular Section opening hours over the winter holidays"
    page.get_by_role("link", name=amended).click()
    page.wait_for_url("**/statements/**")
    note = page.locator(".change-notes li").first.inner_text()
    assert note.startswith("Updated ")
    assert "Added the opening hours of the Lyon consulate" in note
    page.screenshot(path=str(ARTIFACTS / "statement.png"), full_page=True)
    assert violations == []


def test_an_auditor_reads_a_history_with_its_diff(browser, sqlite_settings):
    lines = run_cli(sqlite_settings, "demo").stdout.strip().splitlines()
    publisher = [line for line in lines if line.startswith("pf_")][-1]
    auditor = create_token(sqlite_settings, "auditor", "auditor")
    server = Server(sqlite_settings)
    try:
        listed = requests.get(
            f"{server.url}/api/statements?limit=100",
            headers={"Authorization": f"Bearer {publisher}"},
            timeout=5,
        ).json()
        amended = next(
            s for s in listed["items"] if any(n["public"] for n in s["change_notes"])
        )
        context = browser.new_context(
            extra_http_headers={"Authorization": f"Bearer {auditor}"}
        )
        page = context.new_page()
        violations: list[str] = []
        page.on(
            "console",
            lambda m: (
                violations.append(m.text)
                if "Content Security Policy" in m.text
                else None
            ),
        )
        page.goto(f"{server.url}/audit/statements/{amended['id']}")
        assert page.locator(".audit-event").count() == amended["version"]
        assert page.locator(".audit-event .diff .added").count() >= 1
        assert (
            page.locator(".audit-event .actor").first.inner_text()
            == "demo-press-office"
        )
        note = amended["change_notes"][0]["note"]
        assert page.get_by_text(note).count() >= 1
        page.screenshot(path=str(ARTIFACTS / "audit-history.png"), full_page=True)
        page.locator(".audit-event h2 a").last.click()
        page.wait_for_url("**/versions/*")
        assert (
            f'"version": {amended["version"]}' in page.content()
            or str(amended["version"]) in page.content()
        )
        assert violations == []
    finally:
        server.stop()


@pytest.fixture
def bilingual_demo(tmp_path):
    settings = make_settings(tmp_path, PRESSFEED_LANGUAGES="en,fr")
    run_cli(settings, "demo")
    server = Server(settings)
    yield server
    server.stop()


def test_a_reader_switches_between_french_and_english(browser, bilingual_demo):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    english = "/statements/the-embassy-opens-its-doors-for-the-european-heritage-days"
    page.goto(bilingual_demo.url + english)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").first.inner_text().startswith("The Embassy opens")
    page.screenshot(path=str(ARTIFACTS / "language-english.png"), full_page=True)

    page.locator("nav.languages").get_by_role("link", name="français").click()
    page.wait_for_url("**/statements/l-ambassade-ouvre-ses-portes-**")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").first.inner_text().startswith("L'Ambassade ouvre")
    assert page.locator("header nav").first.inner_text().startswith("Tous les messages")
    page.screenshot(path=str(ARTIFACTS / "language-french.png"), full_page=True)

    page.locator("nav.languages").get_by_role("link", name="English").click()
    page.wait_for_url("**" + english)
    assert page.locator("html").get_attribute("lang") == "en"

    page.goto(bilingual_demo.url + "/fr/")
    assert page.locator(".latest h2").inner_text() == "Derniers événements"
    page.screenshot(path=str(ARTIFACTS / "front-page-french.png"), full_page=True)
    page.locator("nav.languages").get_by_role("link", name="English").click()
    page.wait_for_url(bilingual_demo.url + "/")
    assert page.locator(".latest h2").inner_text() == "Latest events"
    page.locator("nav.languages").get_by_role("link", name="français").click()
    page.wait_for_url("**/fr/")
