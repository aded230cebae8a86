"""A morning at the press desk, played in a real headless Chromium against a real
`pressfeed serve`: an admin creates the people; a writer composes with a preview
and submits; a publisher approves and schedules it 20 seconds ahead, and it
reaches the public site and all.atom only then; the publisher amends it after
previewing the diff; two publishers amend from the same version and the second
gets the conflict page, not a lost update; a publisher withdraws another
statement; an auditor reads the history with the people's names as actors.

Every page is screenshotted into test-artifacts/desk-*.png. With
PRESSFEED_README_SCREENSHOTS=1 the publisher's desk after the morning is also
written to docs/desk.png, the README's screenshot."""

from __future__ import annotations

import os
import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.helpers import Server, run_cli
from tests.test_browser import ARTIFACTS, browser  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow

DOCS = Path(__file__).parent.parent / "docs"
PARIS = ZoneInfo("Europe/Paris")
VIEWPORT = {"width": 1280, "height": 800}
STATEMENT_URL = re.compile(r"/desk/statements/[0-9a-f-]{36}$")
EMBARGO = timedelta(seconds=20)
PUBLIC_WAIT = 15.0  # seconds past a publication or withdrawal, at most

ADMIN_PASSWORD = "ada keeps the keys 1815"
PEOPLE = {  # name: (role, the password they choose at first sign-in)
    "wanda": ("writer", "wanda writes in the morning"),
    "paul": ("publisher", "paul publishes at noon"),
    "petra": ("publisher", "petra publishes at night"),
    "aude": ("auditor", "aude reads every line"),
}

TITLE = "Consulate closed on Fridays in August"
BODY = (
    "The consulate is **closed** on Fridays in August.\n\n"
    "Visa appointments move to Thursdays."
)
AMENDED_BODY = BODY + "\n\nIt is also closed on Friday 15 August, a holiday."
CHANGE_NOTE = "Added the closure on 15 August"
PAUL_BODY = AMENDED_BODY + "\n\nPassports are handed out on Wednesdays."
PETRA_BODY = AMENDED_BODY + "\n\nThe visa hotline stays open."
WITHDRAWN_TITLE = "Reception for the national day"
WITHDRAWN_REASON = "Published in error: the reception is next year"


class Morning:
    """The server, the people's browsers, and what every page showed."""

    def __init__(self, browser, url: str) -> None:  # noqa: F811
        self.browser = browser
        self.url = url
        self.violations: list[str] = []  # CSP messages in any console
        self.failures: list[str] = []  # 5xx answers to any page
        self.shots = 0
        self.one_time: dict[str, str] = {}

    def browser_of(self, name: str):
        """A new browser context (its own cookies) and page for one person."""
        context = self.browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(10_000)

        def on_console(message) -> None:
            if "Content Security Policy" in message.text:
                self.violations.append(f"{name} at {page.url}: {message.text}")

        def on_response(response) -> None:
            if response.status >= 500:
                self.failures.append(f"{name}: {response.status} {response.url}")

        page.on("console", on_console)
        page.on("response", on_response)
        return page

    def shot(self, page, label: str, *, full_page: bool = True) -> Path:
        """Keeps a screenshot of the page; no page so far broke the CSP."""
        self.shots += 1
        path = ARTIFACTS / f"desk-{self.shots:02d}-{label}.png"
        page.screenshot(path=str(path), full_page=full_page)
        assert self.violations == [], self.violations
        assert self.failures == [], self.failures
        return path

    def go(self, page, path: str) -> None:
        response = page.goto(self.url + path)
        assert response is not None and response.ok, (path, response)


def sign_in(morning: Morning, page, name: str, password: str, new: str | None):
    """Name, Password, Sign in; then the one-time password is changed if asked."""
    morning.go(page, "/desk/login")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    if new is not None:
        page.wait_for_url("**/desk/password?**")
        assert "one-time password" in page.locator("main").inner_text()
        morning.shot(page, f"{name}-change-password")
        page.get_by_label("Current password", exact=True).fill(password)
        page.get_by_label("New password", exact=True).fill(new)
        page.get_by_role("button", name="Change password", exact=True).click()
    page.wait_for_url(morning.url + "/desk/")
    assert page.locator(".desk-person").inner_text() == name


def sign_in_person(morning: Morning, name: str):
    page = morning.browser_of(name)
    sign_in(morning, page, name, morning.one_time[name], PEOPLE[name][1])
    return page


def listing(page, heading: str):
    """One of the desk's lists, by its heading."""
    return page.locator("section.desk-list").filter(
        has=page.get_by_role("heading", name=heading, exact=True)
    )


def button(page, name: str):
    return page.get_by_role("button", name=name, exact=True)


def status_of(page) -> str:
    return page.locator(".status").inner_text()


def wait_for_status(page, status: str) -> None:
    """Until the statement page (reloaded by a POST-redirect) shows a status."""
    page.locator(f".status-{status}").wait_for()


def fill_statement(page, title: str, body: str, tags: str = "visas, consulate"):
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Kind", exact=True).select_option("news")
    page.get_by_label("Language", exact=True).select_option(
        "en"
    )  # the office's languages
    page.get_by_label("Tags", exact=True).fill(tags)
    page.get_by_label("Body", exact=True).fill(body)


def statement_state(page, url: str, statement_id: str) -> dict:
    """The statement as the event store has it, read with the page's session."""
    response = page.request.get(
        f"{url}/audit/statements/{statement_id}/state",
        params={"as_of": datetime.now(UTC).isoformat()},
        headers={"Accept": "application/json"},
    )
    assert response.ok, response.text()
    document = response.json()
    # A browser sends a textarea's lines ended by CRLF (the HTML form rules).
    document["body"] = document["body"].replace("\r\n", "\n")
    return document


def public_side(url: str, slug: str) -> tuple[int, bool]:
    """The public page's status, and whether all.atom names the statement."""
    page = requests.get(f"{url}/statements/{slug}", timeout=5)
    feed = requests.get(f"{url}/feeds/all.atom", timeout=5)
    assert feed.status_code == 200
    return page.status_code, f"/statements/{slug}" in feed.text


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout} s, still not: {what}")
        time.sleep(0.25)


def test_a_morning_at_the_press_desk(browser, sqlite_settings, tmp_path):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    run_cli(
        sqlite_settings,
        *("user", "create", "--name", "ada", "--role", "admin", "--password-stdin"),
        input=ADMIN_PASSWORD + "\n",
    )
    with open(tmp_path / "server.log", "wb") as log:
        server = Server(
            sqlite_settings, log_file=log, PRESSFEED_TIMEZONE="Europe/Paris"
        )
        try:
            play_the_morning(Morning(browser, server.url))
        finally:
            server.stop()


def play_the_morning(morning: Morning) -> None:
    url = morning.url

    # 1. The admin signs in and creates the people; their one-time passwords are
    # shown once, on the page. Then signs out.
    admin = morning.browser_of("ada")
    sign_in(morning, admin, "ada", ADMIN_PASSWORD, None)
    morning.shot(admin, "admin-desk")
    admin.get_by_role("link", name="People", exact=True).click()
    admin.wait_for_url("**/desk/people")
    for name, (role, _) in PEOPLE.items():
        admin.get_by_label("Name", exact=True).fill(name)
        admin.get_by_label("Role", exact=True).select_option(role)
        button(admin, "Create account").click()
        admin.locator(".once").filter(has_text=f"Created {role} {name}.").wait_for()
        morning.one_time[name] = admin.locator("#one-time-password").inner_text()
        assert len(morning.one_time[name]) >= 12
        row = admin.locator(f"#person-{name}").inner_text()
        assert role in row and "one-time password" in row
    morning.shot(admin, "admin-people")
    button(admin, "Sign out").click()
    admin.wait_for_url("**/desk/login")
    morning.shot(admin, "admin-signed-out")
    admin.context.close()

    # 2. The writer signs in (own browser), changes the one-time password,
    # composes with a preview, saves the draft and submits it for review.
    writer = sign_in_person(morning, "wanda")
    morning.shot(writer, "writer-desk")
    writer.get_by_role("link", name="New statement", exact=True).click()
    writer.wait_for_url("**/desk/statements/new")
    assert button(writer, "Publish now").count() == 0  # a writer never publishes
    fill_statement(writer, TITLE, BODY)
    button(writer, "Preview").click()
    preview = writer.locator("section.preview")
    preview.locator("strong", has_text="closed").wait_for()
    assert preview.locator("h3").filter(has_text=TITLE).count() == 1
    assert "**" not in preview.inner_text()
    assert writer.get_by_label("Body", exact=True).input_value() == BODY
    morning.shot(writer, "writer-preview")
    button(writer, "Save draft").click()
    writer.wait_for_url(STATEMENT_URL)
    statement_id = writer.url.rsplit("/", 1)[-1]
    statement_path = f"/desk/statements/{statement_id}"
    assert status_of(writer) == "draft"
    morning.shot(writer, "writer-draft")
    button(writer, "Submit for review").click()
    writer.locator(".meta", has_text="in review, asked by wanda").wait_for()
    assert button(writer, "Submit for review").count() == 0
    morning.shot(writer, "writer-submitted")

    # 3. The publisher signs in, finds it in review, approves and schedules it
    # 20 seconds ahead, in Paris time. It is public only after its time.
    paul = sign_in_person(morning, "paul")
    in_review = listing(paul, "In review")
    in_review.get_by_role("link", name=TITLE, exact=True).wait_for()
    assert "asked by wanda" in in_review.inner_text()
    morning.shot(paul, "publisher-desk-in-review")
    in_review.get_by_role("link", name=TITLE, exact=True).click()
    paul.wait_for_url(url + statement_path)
    publish_at = paul.get_by_label("Publish at")
    assert publish_at.get_attribute("step") == "1"
    assert publish_at.get_attribute("type") == "datetime-local"
    assert "Europe/Paris" in paul.locator("label[for=publish_at]").inner_text()
    release = (datetime.now(PARIS) + EMBARGO).replace(microsecond=0)
    if release.second == 0:  # Chromium would shorten HH:MM:00 to HH:MM
        release += timedelta(seconds=1)
    publish_at.fill(release.strftime("%Y-%m-%dT%H:%M:%S"))
    morning.shot(paul, "publisher-approve")
    button(paul, "Approve and schedule").click()
    wait_for_status(paul, "scheduled")
    meta = paul.locator("p.meta").first.inner_text()
    assert "approved by paul" in meta and "text by wanda" in meta
    assert f"publishes {release.strftime('%d.%m.%Y %H:%M')} CE" in meta  # CET/CEST
    morning.shot(paul, "publisher-scheduled")
    state = statement_state(paul, url, statement_id)
    assert state["status"] == "scheduled"
    assert datetime.fromisoformat(state["publish_at"]) == release
    slug = state["slug"]
    assert datetime.now(PARIS) < release, "too slow: the embargo passed already"
    assert public_side(url, slug) == (404, False)
    morning.go(paul, "/desk/")
    scheduled = listing(paul, "Scheduled").inner_text()
    assert TITLE in scheduled and re.search(r"in 0 min \d\d s", scheduled), scheduled
    morning.shot(paul, "publisher-desk-scheduled")

    # While the embargo runs: 6. the publisher withdraws ANOTHER statement,
    # published first with "Publish now", after a confirmation page.
    paul.get_by_role("link", name="New statement", exact=True).click()
    paul.wait_for_url("**/desk/statements/new")
    fill_statement(
        paul, WITHDRAWN_TITLE, "Everyone is *welcome* on the 14th.", "culture"
    )
    button(paul, "Publish now").click()
    paul.wait_for_url(STATEMENT_URL)
    other_path = paul.url.removeprefix(url)
    assert status_of(paul) == "published"
    other_public = paul.get_by_role("link", name="Public page").get_attribute("href")
    assert other_public is not None
    other_public = other_public.removeprefix(url)
    morning.shot(paul, "publisher-published-now")
    paul.get_by_label("Reason", exact=True).fill(WITHDRAWN_REASON)
    button(paul, "Withdraw").click()
    paul.wait_for_url("**/withdrawal")
    notice = paul.locator("section.preview").inner_text()
    assert f"Withdrawn: {WITHDRAWN_TITLE}" in notice
    assert f"Reason: {WITHDRAWN_REASON}" in notice
    assert "This statement was withdrawn on" in notice
    morning.shot(paul, "publisher-withdraw-confirm")
    button(paul, "Withdraw").click()
    paul.wait_for_url(url + other_path)
    assert status_of(paul) == "retracted"
    morning.shot(paul, "publisher-withdrawn")
    wait_until(
        lambda: requests.get(url + other_public, timeout=5).status_code == 410,
        PUBLIC_WAIT,
        "the withdrawn statement's public page answers 410",
    )
    # Readers see the public side in their own browser (public pages are cached
    # for 30 s, so each is looked at once, when it has changed).
    reader = morning.browser_of("reader")
    gone = reader.goto(url + other_public)
    assert gone is not None and gone.status == 410
    assert WITHDRAWN_REASON in reader.locator("main").inner_text()
    morning.shot(reader, "public-withdrawn")

    # 3, continued: until its time, neither the page nor all.atom shows it;
    # after it, both do (any sighting must come after the time).
    def public_now() -> bool:
        status, in_feed = public_side(url, slug)
        if status == 200 and in_feed:
            assert datetime.now(PARIS) >= release, "public before its time"
            return True
        if datetime.now(PARIS) < release:
            assert (status, in_feed) == (404, False), "public before its time"
        return False

    wait_until(
        public_now,
        (release - datetime.now(PARIS)).total_seconds() + PUBLIC_WAIT,
        "the scheduled statement is on the public page and in all.atom",
    )
    morning.go(reader, f"/statements/{slug}")
    assert reader.locator("strong", has_text="closed").count() == 1
    morning.shot(reader, "public-scheduled-published")

    # 4. The publisher amends it: "Preview changes" shows the diff against the
    # published text; "Save amendment"; the public page shows the change note.
    morning.go(paul, statement_path)
    assert status_of(paul) == "published"
    paul.get_by_label("Body", exact=True).fill(AMENDED_BODY)
    paul.get_by_label("Change note", exact=True).fill(CHANGE_NOTE)
    button(paul, "Preview changes").click()
    paul.wait_for_url("**/amendment")
    added = paul.locator(".diff .added")
    added.filter(has_text="15 August").wait_for()
    assert paul.locator(".diff .removed").filter(has_text="15 August").count() == 0
    assert paul.get_by_label("Change note", exact=True).input_value() == CHANGE_NOTE
    morning.shot(paul, "publisher-amend-preview")
    button(paul, "Save amendment").click()
    paul.wait_for_url(url + statement_path)
    assert statement_state(paul, url, statement_id)["body"] == AMENDED_BODY
    morning.shot(paul, "publisher-amended")

    def note_is_public() -> bool:
        page = requests.get(f"{url}/statements/{slug}", timeout=5)
        return page.status_code == 200 and CHANGE_NOTE in page.text

    wait_until(note_is_public, PUBLIC_WAIT, "the change note on the public page")
    reader.context.close()
    reader = morning.browser_of("reader")  # a reader arriving after the change
    morning.go(reader, f"/statements/{slug}")
    assert CHANGE_NOTE in reader.locator(".change-notes").inner_text()
    morning.shot(reader, "public-change-note")

    # 5. Two publishers amend from the same version: the first is saved, the
    # second sees who changed what, not a lost update, and applies theirs on top.
    petra = sign_in_person(morning, "petra")
    morning.go(paul, statement_path)
    morning.go(petra, statement_path)
    opened = statement_state(paul, url, statement_id)["version"]
    paul.get_by_label("Body", exact=True).fill(PAUL_BODY)
    paul.get_by_label("Change note", exact=True).fill("Passport collection day")
    petra.get_by_label("Body", exact=True).fill(PETRA_BODY)
    petra.get_by_label("Change note", exact=True).fill("The hotline stays open")
    button(paul, "Save amendment").click()
    paul.wait_for_url(url + statement_path)
    button(petra, "Save amendment").click()
    petra.wait_for_url("**/amendment")
    petra.get_by_role(
        "heading", name="Someone changed this statement meanwhile"
    ).wait_for()
    conflict = petra.locator("main").inner_text()
    assert f"Version {opened + 1}: Amended by paul" in conflict
    assert "Passport collection day" in conflict
    assert petra.locator(".diff .added").filter(has_text="hotline").count() >= 1
    assert button(petra, "Apply mine on top").count() == 1
    morning.shot(petra, "second-publisher-conflict")
    kept = statement_state(petra, url, statement_id)
    assert (kept["body"], kept["version"]) == (PAUL_BODY, opened + 1)
    assert kept["review"]["text_author"] == "paul"
    button(petra, "Apply mine on top").click()
    petra.wait_for_url(url + statement_path)
    on_top = statement_state(petra, url, statement_id)
    assert (on_top["body"], on_top["version"]) == (PETRA_BODY, opened + 2)
    morning.shot(petra, "second-publisher-applied-on-top")

    # 7. An auditor signs in and reads the history: every step, with the
    # people's names as actors.
    aude = sign_in_person(morning, "aude")
    morning.go(aude, f"/audit/statements/{statement_id}")
    events = aude.locator(".audit-event")
    steps = [
        (
            events.nth(i).locator("h2").inner_text().split(": ", 1)[1],
            events.nth(i).locator(".actor").inner_text(),
        )
        for i in range(events.count())
    ]
    assert steps == [
        ("Drafted", "wanda"),
        ("Submitted for review", "wanda"),
        ("Approved", "paul"),
        ("Scheduled", "paul"),
        ("Published", "scheduler"),
        ("Amended", "paul"),
        ("Amended", "paul"),
        ("Amended", "petra"),
    ], steps
    assert CHANGE_NOTE in events.nth(5).locator(".note").inner_text()
    assert events.nth(5).locator(".diff .added").filter(has_text="15 August").count()
    morning.shot(aude, "auditor-history")

    # The desk after the morning, with something in every list: a draft, one in
    # review, one scheduled for tomorrow, the published and the withdrawn.
    writer.get_by_role("link", name="New statement", exact=True).click()
    writer.wait_for_url("**/desk/statements/new")
    fill_statement(writer, "Cultural season programme", "Concerts *every* Tuesday.")
    button(writer, "Save draft").click()
    writer.wait_for_url(STATEMENT_URL)
    morning.go(writer, "/desk/statements/new")
    fill_statement(writer, "New visa fees from September", "Fees change on 1 Sept.")
    button(writer, "Save draft").click()
    writer.wait_for_url(STATEMENT_URL)
    button(writer, "Submit for review").click()
    writer.locator(".meta", has_text="in review, asked by wanda").wait_for()
    morning.go(paul, "/desk/statements/new")
    fill_statement(paul, "Ambassador visits Lyon", "The ambassador visits Lyon.")
    tomorrow = (datetime.now(PARIS) + timedelta(days=1)).replace(hour=9, minute=30)
    paul.get_by_label("Publish at").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    button(paul, "Schedule").click()
    paul.wait_for_url(STATEMENT_URL)
    assert status_of(paul) == "scheduled"
    morning.go(paul, "/desk/")
    for heading, title in (
        ("In review", "New visa fees from September"),
        ("Drafts", "Cultural season programme"),
        ("Scheduled", "Ambassador visits Lyon"),
        ("Latest published", TITLE),
        ("Withdrawn", WITHDRAWN_TITLE),
    ):
        listing(paul, heading).get_by_role("link", name=title, exact=True).wait_for()
    morning.shot(paul, "publisher-desk-after-the-morning")
    overview = morning.shot(paul, "overview", full_page=False)
    if os.environ.get("PRESSFEED_README_SCREENSHOTS") == "1":
        shutil.copy(overview, DOCS / "desk.png")
    assert morning.violations == [] and morning.failures == []

    # 10. The writer's session ends (signed out in another tab) while she types
    # a correction: the sign-in page carries it, and it comes back to be sent.
    morning.go(writer, "/desk/")
    drafts = listing(writer, "Drafts")
    drafts.get_by_role("link", name="Cultural season programme", exact=True).click()
    writer.wait_for_url(STATEMENT_URL)
    typed = "Concerts *every* Tuesday.\n\nAnd on Thursdays in May."
    writer.get_by_label("Body", exact=True).fill(typed)
    other_tab = writer.context.new_page()
    other_tab.goto(morning.url + "/desk/")
    other_tab.get_by_role("button", name="Sign out", exact=True).click()
    other_tab.close()
    button(writer, "Save draft").click()
    assert "What you sent is not saved yet" in writer.locator("main").inner_text()
    writer.get_by_label("Name", exact=True).fill("wanda")
    writer.get_by_label("Password", exact=True).fill(PEOPLE["wanda"][1])
    button(writer, "Sign in").click()
    writer.wait_for_url(re.compile(r"/desk/statements/[0-9a-f-]{36}\?kept="))
    assert writer.get_by_label("Body", exact=True).input_value() == typed
    morning.shot(writer, "writer-correction-kept")
    button(writer, "Save draft").click()
    writer.wait_for_url(STATEMENT_URL)
    assert "And on Thursdays in May." in writer.locator(".current").inner_text()
    assert morning.violations == [] and morning.failures == []
