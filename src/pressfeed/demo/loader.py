"""Loads the sample press office (press_office.jsonl) through the application."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from pressfeed.application import PressOffice
from pressfeed.schemas import StatementCreate

DEMO_ACTOR = "demo-press-office"


def demo_lines() -> list[dict[str, Any]]:
    text = resources.files("pressfeed.demo").joinpath("press_office.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@contextmanager
def dated(app: PressOffice, moment: datetime) -> Iterator[None]:
    """Runs commands as if at moment (never later than now)."""
    real_clock = app.clock
    fixed = min(moment, real_clock())
    app.clock = lambda: fixed
    try:
        yield
    finally:
        app.clock = real_clock


def load_demo(app: PressOffice) -> int:
    """Creates every demo statement in a language the office publishes in (the
    demo's are en and fr), back-dated, with its amendments and retraction, and
    features the one marked "featured".

    Amendments and the retraction are dated a day apart after publication; the
    events themselves are recorded now, as the audit history shows.
    """
    lines, loaded = [], set()
    for line in demo_lines():
        original = line.get("translation_of")
        if line.get("language", "en") in app.languages and (
            original is None or original in loaded
        ):
            lines.append(line)
            loaded.add(line.get("slug"))
    featured = None
    for line in lines:
        amendments = line.pop("amendments", [])
        retraction = line.pop("retraction", None)
        to_feature = line.pop("featured", False)
        fields = StatementCreate.model_validate_json(json.dumps(line))
        statement = app.create_statement(
            fields.as_new_statement("en"), actor=DEMO_ACTOR
        ).statement
        if to_feature:
            featured = statement.id
        moment = fields.published_at or app.clock()
        for amendment in amendments:
            moment += timedelta(days=1)
            with dated(app, moment):
                statement = app.amend(
                    statement.id,
                    expected_version=statement.version,
                    changes={
                        k: amendment[k] for k in ("title", "body") if k in amendment
                    },
                    change_note=amendment["change_note"],
                    minor=amendment.get("minor", False),
                    actor=DEMO_ACTOR,
                ).statement
        if retraction is not None:
            with dated(app, moment + timedelta(days=1)):
                app.retract(
                    statement.id,
                    expected_version=statement.version,
                    reason=retraction["reason"],
                    actor=DEMO_ACTOR,
                )
    if featured is not None:  # on the front page, above the newer ones
        app.feature(str(featured), actor=DEMO_ACTOR)
    return len(lines)
