"""The pressfeed command, run as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
import pytest

from pressfeed.application import NewStatement, PressOffice, SlugTaken
from pressfeed.assembly import Pressfeed
from pressfeed.import_file import CHECKERS
from pressfeed.projections import open_views
from pressfeed.projections.catalogue import COUNTS
from tests.conftest import POSTGRES_URL, make_settings, require_postgres
from tests.helpers import PRESSFEED, create_token, env_for, run_cli, token_secret


@pytest.fixture
def settings(sqlite_settings):
    return sqlite_settings


def log_head(settings) -> int:
    app = PressOffice(env=settings.eventsourcing_env())
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


def test_token_create_prints_the_token_alone_on_the_last_line(settings):
    token = create_token(settings, "auditor", "audit-office")
    with opened(settings) as pressfeed:
        caller = pressfeed.tokens.authenticate(token)
    assert (caller.name, caller.role) == ("audit-office", "auditor")
    again = run_cli(
        settings,
        "token",
        "create",
        "--role",
        "auditor",
        "--name",
        "audit-office",
        check=False,
    )
    assert again.returncode != 0 and "already named" in again.stderr


def test_only_a_hash_of_the_token_is_stored(settings):
    token = create_token(settings)
    database = (settings.instance_dir / "pressfeed.db").read_bytes()
    assert token.encode() not in database
    assert token_secret(token).encode() not in database


def write_lines(path, lines) -> None:
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")


def statement_line(i: int, **fields) -> dict:
    line = {
        "title": f"Archive statement {i}",
        "body": f"Text {i}",
        "kind": "press-release",
        "published_at": f"2019-01-{i % 28 + 1:02d}T10:00:00+03:00",
    }
    return {**line, **fields}


def test_import_saves_every_line_back_dated(settings, tmp_path):
    path = tmp_path / "archive.jsonl"
    write_lines(path, [statement_line(i) for i in range(50)])
    result = run_cli(settings, "import", str(path))
    assert "Imported 50 statements" in result.stdout
    app = PressOffice(env=settings.eventsourcing_env())
    statement = app.find_statement("archive-statement-7")
    assert statement.status == "published"
    assert statement.published_at.isoformat() == "2019-01-08T07:00:00+00:00"


def test_an_import_on_postgres_leaves_the_log_vacuumed_and_analysed(
    tmp_path, postgres_url
):
    """A bulk write: the tree's index then answers proofs alone (index-only)
    and the planner knows the log's size, without waiting for autovacuum."""
    settings = make_settings(tmp_path, postgres_url)
    path = tmp_path / "archive.jsonl"
    write_lines(path, [statement_line(i) for i in range(20)])
    run_cli(settings, "import", str(path))
    schema = settings.eventsourcing_env()["POSTGRES_SCHEMA"]
    with psycopg.connect(POSTGRES_URL) as conn:
        rows = conn.execute(
            "SELECT s.relname, s.last_vacuum IS NOT NULL, c.reltuples "
            "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "WHERE s.schemaname = %s AND s.relname IN "
            "('pressoffice_events', 'pf_chain', 'pf_tree')",
            (schema,),
        ).fetchall()
    assert sorted(rows) == [
        ("pf_chain", True, 60),
        ("pf_tree", True, 60 + 30 + 15 + 7 + 3 + 1),  # the complete subtrees
        ("pressoffice_events", True, 60),
    ]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"title": ""}, "title"),
        ({"published_at": "2019-01-01T10:00:00"}, "timezone"),
        ({"kind": "tweet"}, "unknown kind"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"published_at": "2990-01-01T10:00:00+03:00"}, "in the past"),
        ({"published_at": None, "publish_at": "2019-01-01T10:00:00Z"}, "future"),
        ({"published_at": "0001-01-01T00:30:00+01:00"}, "published_at"),
    ],
)
def test_a_bad_line_is_reported_by_number_and_nothing_is_imported(
    settings, tmp_path, bad, message
):
    path = tmp_path / "archive.jsonl"
    lines = [statement_line(i) for i in range(10)]
    lines[6] = {**lines[6], **bad}
    write_lines(path, lines)
    head = log_head(settings)
    result = run_cli(settings, "import", str(path), check=False)
    assert result.returncode != 0
    assert "archive.jsonl:7:" in result.stderr
    assert message in result.stderr
    assert "Nothing was imported" in result.stderr
    assert log_head(settings) == head


def test_demo_loads_once_and_prints_a_working_token(settings):
    first = run_cli(settings, "demo", "--if-empty")
    lines = first.stdout.strip().splitlines()
    token = [line for line in lines if line.startswith("pf_")][-1]
    with opened(settings) as pressfeed:
        assert pressfeed.tokens.authenticate(token).role == "publisher"
    assert "/desk/login with the one-time password:" in lines[-2]
    with opened(settings) as pressfeed:
        person = pressfeed.people.verify_password("demo-publisher", lines[-1])
    assert person.role == "publisher" and person.must_change_password
    head = log_head(settings)
    assert head > 0
    second = run_cli(settings, "demo", "--if-empty")
    assert "not loaded again" in second.stdout
    assert log_head(settings) == head


def test_demo_press_office_has_what_a_new_user_should_see(settings):
    run_cli(settings, "demo")
    app = PressOffice(env=settings.eventsourcing_env())
    views = open_views(settings)
    run_cli(settings, "rebuild")
    rows = views.query("SELECT document FROM {t}", t="pf_catalogue")
    documents = [json.loads(row["document"]) for row in rows]
    assert len(documents) >= 15
    assert {d["kind"] for d in documents} == set(app.kinds)
    assert sum(d["status"] == "retracted" for d in documents) == 1
    assert sum(bool(d["change_notes"]) for d in documents) >= 3
    published = sorted(d["published_at"] for d in documents)
    assert published[0][:7] < published[-1][:7]


def test_rebuild_reproduces_the_views(settings):
    run_cli(settings, "demo")
    views = open_views(settings)
    run_cli(settings, "rebuild")
    first = views.query("SELECT id, document FROM {t} ORDER BY id", t="pf_catalogue")
    result = run_cli(settings, "rebuild")
    assert "Rebuilt the views" in result.stdout
    second = views.query("SELECT id, document FROM {t} ORDER BY id", t="pf_catalogue")
    assert [tuple(r) for r in first] == [tuple(r) for r in second]


def test_user_create_with_a_password_from_standard_input(settings):
    created = run_cli(
        settings,
        "user",
        "create",
        "--name",
        "anna",
        "--role",
        "writer",
        "--password-stdin",
        input="correct horse battery\n",
    )
    assert "anna" in created.stdout
    with opened(settings) as pressfeed:
        person = pressfeed.people.verify_password("anna", "correct horse battery")
    assert person.role == "writer" and not person.must_change_password
    again = run_cli(
        settings, "user", "create", "--name", "anna", "--role", "admin", check=False
    )
    assert again.returncode != 0 and "already named" in again.stderr
    short = run_cli(
        settings,
        "user",
        "create",
        *("--name", "bob", "--role", "writer", "--password-stdin"),
        input="short\n",
        check=False,
    )
    assert short.returncode != 0 and "characters" in short.stderr


def test_user_create_prints_a_one_time_password_on_its_last_line(settings):
    output = run_cli(settings, "user", "create", "--name", "bob", "--role", "admin")
    password = output.stdout.strip().splitlines()[-1]
    with opened(settings) as pressfeed:
        person = pressfeed.people.verify_password("bob", password)
    assert person.role == "admin" and person.must_change_password
    database = (settings.instance_dir / "pressfeed.db").read_bytes()
    assert password.encode() not in database


def test_user_list_role_disable_and_totp(settings):
    run_cli(settings, "user", "create", "--name", "anna", "--role", "writer")
    run_cli(settings, "user", "create", "--name", "bob", "--role", "auditor")
    pressfeed = Pressfeed(settings)  # kept: its pools close when it is collected
    people = pressfeed.people
    token = people.start_session("anna")
    run_cli(settings, "user", "role", "anna", "publisher")
    assert people.get("anna").role == "publisher"
    assert people.session(token, 3600) is None
    uri = run_cli(settings, "user", "totp", "bob").stdout.strip().splitlines()[-1]
    assert uri.startswith("otpauth://totp/") and "bob" in uri
    run_cli(settings, "user", "disable", "bob")
    listing = run_cli(settings, "user", "list").stdout.splitlines()
    assert listing[0].split("\t")[:2] == ["anna", "publisher"]
    assert listing[1].split("\t")[:2] == ["bob", "auditor"]
    assert "disabled" in listing[1] and "disabled" not in listing[0]
    assert "correct" not in "".join(listing)
    for args in (("disable", "nobody"), ("role", "nobody", "admin"), ("totp", "x")):
        failed = run_cli(settings, "user", *args, check=False)
        assert failed.returncode != 0 and "No account" in failed.stderr
    bad_role = run_cli(settings, "user", "role", "anna", "emperor", check=False)
    assert bad_role.returncode != 0
    pressfeed.close()


@contextmanager
def opened(settings) -> Iterator[Pressfeed]:
    """pressfeed on the test's store, closed afterwards (a collected one closes
    its pools under whoever still uses them)."""
    pressfeed = Pressfeed(settings)
    try:
        yield pressfeed
    finally:
        pressfeed.close()


def statements_in_store(settings) -> list[str]:
    """The slug of every statement in the log (one per Drafted event)."""
    app = PressOffice(env=settings.eventsourcing_env())
    try:
        slugs, after = [], 0
        while batch := app.recorder.select_notifications(
            start=after, limit=10_000, inclusive_of_start=False
        ):
            slugs += [
                app.mapper.to_domain_event(n).slug
                for n in batch
                if n.topic.endswith(".Drafted")
            ]
            after = batch[-1].id
        return slugs
    finally:
        app.close()


@pytest.mark.slow
@pytest.mark.parametrize("given_slugs", [False, True], ids=["derived", "given"])
def test_an_import_killed_mid_way_and_run_again_imports_every_line_once(
    settings, tmp_path, given_slugs
):
    lines = 20_000
    path = tmp_path / "archive.jsonl"
    write_lines(
        path,
        [
            statement_line(i, title=f"Imported statement {i}")
            | ({"slug": f"line-{i}"} if given_slugs else {})
            for i in range(lines)
        ],
    )
    process = subprocess.Popen(
        [PRESSFEED, "import", str(path)],
        env=env_for(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Two chunks of 1,000 statements (three events each) committed, then kill -9.
        deadline = time.monotonic() + 120
        while log_head(settings) < 6_000:
            assert process.poll() is None, "the import ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    interrupted = statements_in_store(settings)
    assert 2_000 <= len(interrupted) < lines
    rerun = run_cli(settings, "import", str(path))
    slugs = statements_in_store(settings)
    assert len(slugs) == lines
    expected = {
        f"line-{i}" if given_slugs else f"imported-statement-{i}" for i in range(lines)
    }
    assert set(slugs) == expected
    assert f"Imported {lines - len(interrupted)} statements" in rerun.stdout
    assert f"{len(interrupted)} lines were imported before" in rerun.stdout
    again = run_cli(settings, "import", str(path))
    assert "Imported 0 statements" in again.stdout
    assert len(statements_in_store(settings)) == lines


def write_archive(path, lines: int) -> None:
    write_lines(
        path,
        [statement_line(i, title=f"Imported statement {i}") for i in range(lines)],
    )


@contextmanager
def started_import(settings, path) -> Iterator[subprocess.Popen]:
    """An import in a process group of its own, as a terminal starts it; the
    group is killed afterwards, whatever the test left running."""
    process = subprocess.Popen(
        [PRESSFEED, "import", str(path)],
        env=env_for(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


needs_proc = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(), reason="reads processes from Linux's /proc"
)


def children_of(process: subprocess.Popen) -> list[str]:
    path = f"/proc/{process.pid}/task/{process.pid}/children"
    try:
        with open(path) as children:
            return children.read().split()
    except FileNotFoundError:
        return []


def ignores_ctrl_c(pid: int | str) -> bool:
    """Whether a process ignores SIGINT (False once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("SigIgn:"):
                    return bool(int(line.split()[1], 16) & 1 << (signal.SIGINT - 1))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return False


def checking_under_way(process: subprocess.Popen) -> bool:
    """The checking processes are started, each ignoring Ctrl-C (were they not,
    the import would end first and fail the test), and the importing process
    answers Ctrl-C."""
    ignoring = sum(ignores_ctrl_c(child) for child in children_of(process))
    return ignoring >= CHECKERS and not ignores_ctrl_c(process.pid)


def press_ctrl_c(process: subprocess.Popen, when, timeout: float = 120) -> None:
    """SIGINT to the whole process group, as Ctrl-C sends it, once when() holds."""
    deadline = time.monotonic() + timeout
    while not when():
        assert process.poll() is None, "the import ended before Ctrl-C"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGINT)


@pytest.mark.slow
@needs_proc
def test_ctrl_c_while_the_lines_are_checked_imports_nothing_and_says_so(
    settings, tmp_path
):
    path = tmp_path / "archive.jsonl"
    write_archive(path, 20_000)
    with started_import(settings, path) as process:
        press_ctrl_c(process, lambda: checking_under_way(process))
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "Interrupted while checking the lines. Nothing was imported." in stderr
    assert "Traceback" not in stderr  # neither the command's nor a checker's
    assert statements_in_store(settings) == []


@pytest.mark.slow
@needs_proc
def test_ctrl_c_while_saving_says_how_many_are_saved_and_a_rerun_saves_the_rest(
    settings, tmp_path
):
    lines = 20_000
    path = tmp_path / "archive.jsonl"
    write_archive(path, lines)
    with started_import(settings, path) as process:
        press_ctrl_c(process, lambda: log_head(settings) >= 3_000)  # a chunk saved
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "Traceback" not in stderr
    saved = len(statements_in_store(settings))
    assert 1_000 <= saved < lines
    assert (
        f"Interrupted: {saved} of {lines} statements are saved. "
        "Run the same import again to save the rest." in stderr
    )
    rerun = run_cli(settings, "import", str(path))
    assert f"{saved} lines were imported before" in rerun.stdout
    assert len(statements_in_store(settings)) == lines


@pytest.mark.postgres
def test_rebuild_counts_the_events_verify_and_export_count(tmp_path, postgres_url):
    settings = make_settings(tmp_path, postgres_url)
    run_cli(settings, "demo")
    app = PressOffice(env=settings.eventsourcing_env())
    try:
        taken = "consular-section-opening-hours-over-the-winter-holidays"
        with pytest.raises(SlugTaken):  # a refused insert leaves a gap in the ids
            app.create_statement(
                NewStatement(title="t", body="b", kind="news", slug=taken), actor="po"
            )
        app.create_statement(NewStatement(title="t", body="b", kind="news"), actor="po")
        assert app.recorder.max_notification_id() > log_size(app)
        events = log_size(app)
    finally:
        app.close()
    rebuilt = run_cli(settings, "rebuild")
    assert f"Rebuilt the views from {events} events." in rebuilt.stdout
    assert f"{events}/{events}" in rebuilt.stderr.replace("\r", "\n").splitlines()[-1]
    verified = json.loads(run_cli(settings, "verify").stdout)
    assert verified["events_checked"] == events
    exported = run_cli(settings, "export", str(tmp_path / "log.ndjson"))
    assert f"Exported {events} events" in exported.stdout


def log_size(app: PressOffice) -> int:
    return len(app.recorder.select_notifications(start=1, limit=1_000_000))


def test_the_demos_look_is_kept_so_commands_from_any_shell_agree(settings):
    """make run exports the demo's look; a later command from a plain shell
    (rebuild, verify --views) must build and check the views as it serves them."""
    make_run = {
        **env_for(settings),
        "PRESSFEED_TIMEZONE": "Europe/Paris",
        "PRESSFEED_LANGUAGES": "en,fr",
        "PRESSFEED_SITE_TITLE": "Embassy of Valdoria",
    }
    demo = subprocess.run(
        [PRESSFEED, "demo", "--if-empty"],
        env=make_run,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Kept the demo's look" in demo.stdout
    assert "verifier key, for witnesses" in demo.stdout
    assert (settings.instance_dir / "signing_key").exists()
    plain_shell = {
        k: v for k, v in env_for(settings).items() if k != "PRESSFEED_LANGUAGES"
    }
    for command in (["rebuild"], ["verify", "--views"]):
        subprocess.run(
            [PRESSFEED, *command], env=plain_shell, capture_output=True, check=True
        )
    zones = open_views(settings).query("SELECT DISTINCT zone FROM {c}", c=COUNTS)
    assert [row["zone"] for row in zones] == ["Europe/Paris"]
    again = subprocess.run(
        [PRESSFEED, "demo", "--if-empty"],
        env={**make_run, "PRESSFEED_TIMEZONE": "Asia/Tbilisi"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Kept" not in again.stdout  # kept once, never overwritten
    assert "other values of PRESSFEED_TIMEZONE" in again.stderr


def test_a_demo_whose_key_cannot_be_made_still_gives_its_token(settings):
    named = {**env_for(settings), "PRESSFEED_LOG_ORIGIN": "press office"}
    demo = subprocess.run(
        [PRESSFEED, "demo"], env=named, capture_output=True, text=True, check=True
    )
    assert "No signing key was made" in demo.stderr
    assert demo.stdout.strip().splitlines()[-3].startswith("pf_")


@pytest.mark.parametrize(
    "command",
    [
        ("verify",),
        ("verify", "--views"),
        ("backup", "office.db"),
        ("export", "log.ndjson"),
        ("rebuild",),
        ("token", "list"),
        ("user", "list"),
        ("migrate", "--to", "sqlite:///elsewhere.db"),
    ],
)
def test_a_command_reading_a_store_that_is_not_there_says_so_and_makes_none(
    tmp_path, command
):
    """Not an empty store reported on: a verify run where the store is not
    (cron without the server's environment) said ok."""
    settings = make_settings(tmp_path)
    store = Path(settings.database_url.removeprefix("sqlite:///"))
    result = run_cli(settings, *command, check=False, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert f"No store at {store}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not store.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_new_postgresql_schema_is_made_and_a_missing_one_is_no_store(tmp_path):
    """?schema=name of a new office: the first process makes it (a traceback
    before); a command reading a store where the schema is not says so."""
    require_postgres()
    schema = f"pf_new_{os.getpid()}_{time.monotonic_ns()}"
    url = f"{POSTGRES_URL}?schema={schema}"
    settings = make_settings(tmp_path, url)
    try:
        refused = run_cli(settings, "verify", check=False)
        assert refused.returncode == 1
        assert f"No store: the schema '{schema}'" in refused.stderr
        assert not schema_there(schema)
        source = make_settings(tmp_path / "source")
        create_token(source)
        run_cli(source, "migrate", "--to", url)
        assert schema_there(schema)
        assert json.loads(run_cli(settings, "verify").stdout)["ok"] is True
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def schema_there(schema: str) -> bool:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        query = "SELECT 1 FROM pg_namespace WHERE nspname = %s"
        return conn.execute(query, (schema,)).fetchone() is not None
