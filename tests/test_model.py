"""A Hypothesis state machine drives random command sequences (create, amend, minor
amend, publish, schedule, unschedule, retract; from current or stale versions,
by several actors) against PressOffice on a real SQLite file, and compares every
answer and state with a small reference model. After each step the views, fed
from the event log, must show exactly the state the aggregate replays to."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from pressfeed.application import NewStatement, PressOffice, StaleVersion
from pressfeed.config import Settings
from pressfeed.projections import open_views
from pressfeed.projections.base import load_document
from pressfeed.projections.runner import ProjectionWorker
from pressfeed.representation import statement_document

START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ACTORS = st.sampled_from(["anna", "boris", "chen"])
TEXT = (
    st.text(alphabet="abcdefgh ", min_size=1, max_size=12).map(str.strip).filter(bool)
)


@dataclass
class Expected:
    status: str
    version: int
    title: str
    body: str
    kind: str = "news"
    tags: list[str] = field(default_factory=list)
    publish_at: datetime | None = None


class PressOfficeMachine(RuleBasedStateMachine):
    statements = Bundle("statements")

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp())
        config = Settings.from_env({"PRESSFEED_INSTANCE_DIR": str(self.directory)})
        self.now = START
        self.app = PressOffice(env=config.eventsourcing_env(), clock=lambda: self.now)
        self.worker = ProjectionWorker(self.app, open_views(config))
        self.model: dict = {}

    def teardown(self) -> None:
        self.app.close()
        self.worker.views.datastore.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def tick(self) -> None:
        self.now += timedelta(seconds=1)

    def attempt(self, command) -> str:
        """Runs a command; 'ok' or the name of the rule it broke."""
        self.tick()
        try:
            command()
        except (StaleVersion, Exception) as error:  # compared with the model below
            return type(error).__name__
        return "ok"

    # Rules

    @rule(
        target=statements,
        title=TEXT,
        body=TEXT,
        how=st.sampled_from(["draft", "published", "scheduled"]),
        actor=ACTORS,
    )
    def create(self, title, body, how, actor):
        self.tick()
        publish_at = self.now + timedelta(days=1) if how == "scheduled" else None
        statement = self.app.create_statement(
            NewStatement(
                title=title,
                body=body,
                kind="news",
                draft=how == "draft",
                publish_at=publish_at,
            ),
            actor=actor,
        ).statement
        self.model[statement.id] = Expected(
            status=how,
            version=2 if how != "draft" else 1,
            title=title,
            body=body,
            publish_at=publish_at,
        )
        return statement.id

    @rule(
        statement=statements,
        title=TEXT,
        body=TEXT,
        minor=st.booleans(),
        stale=st.booleans(),
        note=st.sampled_from(["", "Corrected"]),
        actor=ACTORS,
    )
    def amend(self, statement, title, body, minor, stale, note, actor):
        expected = self.model[statement]
        version = expected.version - 1 if stale else expected.version
        changes = {"title": title, "body": body}
        outcome = self.attempt(
            lambda: self.app.amend(
                statement,
                expected_version=version,
                changes=changes,
                change_note=note or None,
                minor=minor,
                actor=actor,
            )
        )
        if expected.status == "retracted":
            assert outcome in ("StaleVersion", "StatementRetracted")
        elif stale:
            assert outcome == "StaleVersion"
        elif (title, body) == (expected.title, expected.body):
            assert outcome == "NothingToAmend"
        elif expected.status == "published" and not note:
            assert outcome == "ChangeNoteRequired"
        else:
            assert outcome == "ok"
            expected.title, expected.body = title, body
            expected.version += 1

    @rule(statement=statements, actor=ACTORS)
    def publish(self, statement, actor):
        expected = self.model[statement]
        outcome = self.attempt(lambda: self.app.publish(statement, actor=actor))
        answers = {"retracted": "StatementRetracted", "published": "AlreadyPublished"}
        assert outcome == answers.get(expected.status, "ok")
        if outcome == "ok":
            expected.status = "published"  # publish_at stays: the planned time
            expected.version += 1

    @rule(
        statement=statements, days=st.integers(min_value=-1, max_value=3), actor=ACTORS
    )
    def schedule(self, statement, days, actor):
        expected = self.model[statement]
        publish_at = self.now + timedelta(days=days, hours=1)
        outcome = self.attempt(
            lambda: self.app.schedule(statement, publish_at=publish_at, actor=actor)
        )
        if expected.status == "retracted":
            assert outcome == "StatementRetracted"
        elif expected.status == "published":
            assert outcome == "AlreadyPublished"
        elif publish_at <= self.now:
            assert outcome == "EmbargoNotInFuture"
        else:
            assert outcome == "ok"
            expected.status, expected.publish_at = "scheduled", publish_at
            expected.version += 1

    @rule(statement=statements, actor=ACTORS)
    def unschedule(self, statement, actor):
        expected = self.model[statement]
        outcome = self.attempt(lambda: self.app.unschedule(statement, actor=actor))
        answers = {"retracted": "StatementRetracted", "scheduled": "ok"}
        assert outcome == answers.get(expected.status, "NotScheduled")
        if outcome == "ok":
            expected.status, expected.publish_at = "draft", None
            expected.version += 1

    @rule(statement=consumes(statements), stale=st.booleans(), actor=ACTORS)
    def retract(self, statement, stale, actor):
        expected = self.model[statement]
        version = expected.version - 1 if stale else expected.version
        outcome = self.attempt(
            lambda: self.app.retract(
                statement, expected_version=version, reason="Error", actor=actor
            )
        )
        if stale:
            assert outcome == "StaleVersion"
            return
        assert outcome == "ok"
        if expected.status == "scheduled":
            expected.publish_at = None  # the embargo is cancelled
        expected.status = "retracted"
        expected.version += 1

    # What must always hold

    @invariant()
    def the_store_matches_the_model(self):
        for statement_id, expected in self.model.items():
            actual = self.app.get_statement(statement_id)
            assert (actual.status, actual.version, actual.title, actual.body) == (
                expected.status,
                expected.version,
                expected.title,
                expected.body,
            )
            assert actual.publish_at == expected.publish_at

    @invariant()
    def the_views_show_what_the_events_replay_to(self):
        self.worker.catch_up()
        rows = self.worker.views.query("SELECT id, document FROM {t}", t="pf_catalogue")
        shown = {row["id"]: load_document(row["document"]) for row in rows}
        assert set(shown) == {str(i) for i in self.model}
        for statement_id in self.model:
            replayed = None
            for event in self.app.events.get(statement_id):
                replayed = event.mutate(replayed)
            document = dict(shown[str(statement_id)])
            assert document.pop("last_modified") >= document["created_at"]
            assert document == statement_document(replayed)


PressOfficeMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestPressOfficeModel = PressOfficeMachine.TestCase
