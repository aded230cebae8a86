"""The catalogue's counts (per language, kind, status, year and month of the
configured time zone) answer what counting every row answered, and deep pages
seek through them to the same rows as an offset would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pressfeed.application import NewStatement, PressOffice
from pressfeed.projections import open_views
from pressfeed.projections.catalogue import (
    MessageFilter,
    count_filtered,
    count_published,
    counted,
    filtered_public,
    kind_counts,
    message_page,
    published_pages,
    year_counts,
)
from pressfeed.projections.runner import ProjectionWorker
from tests.conftest import make_settings

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2019, 12, 31, 20, tzinfo=UTC)  # Paris is an hour ahead


@pytest.fixture(params=["sqlite", "postgres"])
def paris(request, tmp_path):
    """Settings of an office in Paris publishing in English and French."""
    url = (
        request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    )
    return make_settings(
        tmp_path, url, PRESSFEED_TIMEZONE="Europe/Paris", PRESSFEED_LANGUAGES="en,fr"
    )


def publish_many(app: PressOffice, count: int) -> list:
    """Statements 11 hours apart (so months and a year turn over in Paris
    before they do in UTC), of two kinds and two languages, some a draft."""
    return app.import_statements(
        [
            NewStatement(
                title=f"Statement {i}",
                body="Text.",
                kind=("news", "interview", "news")[i % 3],
                language=("en", "fr")[i % 2 and i % 5 == 1],
                published_at=START + timedelta(hours=11 * i),
            )
            for i in range(count)
        ],
        actor="import",
    )


def live_count(views, found: MessageFilter) -> int:
    where, params = found.where()
    rows = views.query(
        f"SELECT COUNT(*) AS n FROM {{t}} WHERE {where}", params, t="pf_catalogue"
    )
    return int(rows[0]["n"])


def live_titles(views, found: MessageFilter, offset: int) -> list[str]:
    where, params = found.where()
    rows = views.query(
        f"SELECT document FROM {{t}} WHERE {where} "
        "ORDER BY published_us DESC, id DESC LIMIT 5 OFFSET ?",
        [*params, offset],
        t="pf_catalogue",
    )
    return [json.loads(row["document"])["title"] for row in rows]


FILTERS = [
    MessageFilter(PARIS),
    MessageFilter(PARIS, language="fr"),
    MessageFilter(PARIS, kind="news"),
    MessageFilter(PARIS, year=2020),
    MessageFilter(PARIS, year=2020, month=1),
    MessageFilter(PARIS, language="en", kind="interview", year=2020, month=2),
    MessageFilter(PARIS, year=2019),
]


@pytest.fixture
def office(paris):
    app = PressOffice(
        env=paris.eventsourcing_env(), kinds=paris.kinds, languages=paris.languages
    )
    yield app
    app.close()


def changed_and_caught_up(app: PressOffice, settings) -> ProjectionWorker:
    """Forty statements in small batches, one withdrawn, one of another kind."""
    made = publish_many(app, 40)
    worker = ProjectionWorker(app, open_views(settings), batch_size=7)
    worker.catch_up()
    app.retract(made[3].id, expected_version=None, reason="Wrong", actor="po")
    app.amend(
        made[4].id,
        expected_version=None,
        changes={"kind": "comment"},
        change_note="Is a comment",
        minor=False,
        actor="po",
    )
    worker.catch_up()
    return worker


def test_the_counts_answer_what_counting_the_rows_answers(office, paris):
    views = changed_and_caught_up(office, paris).views
    for found in FILTERS:
        assert counted(views, found)
        assert count_filtered(views, found) == live_count(views, found), found
    assert kind_counts(views, MessageFilter(PARIS, year=2020, month=1)) == {
        kind: live_count(views, MessageFilter(PARIS, kind=kind, year=2020, month=1))
        for kind in ("comment", "interview", "news")
        if live_count(views, MessageFilter(PARIS, kind=kind, year=2020, month=1))
    }
    # The first statement is of 2019 in UTC and of 2020 in Paris.
    assert year_counts(views, MessageFilter(PARIS)) == [(2020, 39), (2019, 1)]
    assert count_published(views) == 39


def test_speaker_filters_are_counted_from_the_rows(office, paris):
    views = changed_and_caught_up(office, paris).views
    found = MessageFilter(PARIS, speaker="Nobody")
    assert not counted(views, found)
    assert count_filtered(views, found) == 0
    assert year_counts(views, found) == []


@pytest.mark.parametrize("found", FILTERS)
def test_every_offset_seeks_to_the_rows_an_offset_skips_to(office, paris, found):
    views = changed_and_caught_up(office, paris).views
    for offset in range(live_count(views, found) + 2):
        titles = [
            d["title"] for d in filtered_public(views, found, limit=5, offset=offset)
        ]
        assert titles == live_titles(views, found, offset), offset


PAGE_FILTERS = [
    *FILTERS,
    MessageFilter(PARIS, kind="interview", year=2020),
    MessageFilter(PARIS, language="en", kind="news"),
    MessageFilter(PARIS, kind="comment"),
    MessageFilter(PARIS, year=1999),
    MessageFilter(PARIS, speaker="Nobody"),
]


@pytest.mark.parametrize("found", PAGE_FILTERS)
def test_a_page_answers_what_each_count_and_an_offset_answer(office, paris, found):
    """A page reads its total, its panel and its seek from one tally of the
    year rows: each answers what its own query over the rows answers."""
    views = changed_and_caught_up(office, paris).views
    total = live_count(views, found)
    for offset in range(0, total + 2, 3):
        page = message_page(views, found, limit=5, offset=offset)
        assert page.total == total
        assert page.kinds == kind_counts(views, found)
        assert page.years == year_counts(views, found)
        assert [d["title"] for d in page.documents] == live_titles(
            views, found, offset
        ), offset
    everything = MessageFilter(PARIS)
    assert sum(message_page(views, everything, limit=1, offset=0).kinds.values()) == (
        live_count(views, everything)
    )


def test_sitemap_pages_seek_to_the_rows_an_offset_skips_to(office, paris):
    views = changed_and_caught_up(office, paris).views
    rows = views.query(
        "SELECT slug FROM {t} WHERE status = 'published' ORDER BY published_us, id",
        t="pf_catalogue",
    )
    slugs = [row["slug"] for row in rows]
    for offset in range(len(slugs) + 1):
        page = published_pages(views, limit=3, offset=offset)
        assert [slug for slug, _ in page] == slugs[offset : offset + 3]


def test_another_time_zone_is_counted_afresh_with_the_next_change(
    office, paris, tmp_path
):
    worker = changed_and_caught_up(office, paris)
    tokyo = make_settings(
        tmp_path,
        paris.database_url,
        PRESSFEED_TIMEZONE="Asia/Tokyo",
        PRESSFEED_LANGUAGES="en,fr",
    )
    views = open_views(tokyo)
    in_tokyo = MessageFilter(ZoneInfo("Asia/Tokyo"), year=2020, month=1)
    assert not counted(views, in_tokyo)  # Paris's rows: the rows are counted
    expected = live_count(views, in_tokyo)
    assert count_filtered(views, in_tokyo) == expected
    office.create_statement(
        NewStatement(title="Later", body="Text.", kind="news"), actor="po"
    )
    ProjectionWorker(office, views).catch_up()
    assert counted(views, in_tokyo)
    assert count_filtered(views, in_tokyo) == live_count(views, in_tokyo)
    assert not counted(worker.views, MessageFilter(PARIS))
