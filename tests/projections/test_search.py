"""Search's work is bounded: past CANDIDATES matches only the newest are ranked
(SQLite reads its index newest first; PostgreSQL reads the newest statements
first, walks further back or uses its index, as the share of matches says),
and every path finds what ranking every match among the newest would."""

from __future__ import annotations

import pytest

from pressfeed.application import NewStatement, PressOffice
from pressfeed.projections import open_views, search
from pressfeed.projections.runner import ProjectionWorker
from pressfeed.projections.search import Scope, parse_query
from tests.conftest import make_settings


@pytest.fixture
def small_bounds(monkeypatch):
    monkeypatch.setattr(search, "CANDIDATES", 5)
    monkeypatch.setattr(search, "WINDOW", 8)


def body(i: int) -> str:
    """Every statement says "budget"; every third "harbour" (more often in
    later ones); three in four "minister"; the first two "lighthouse"."""
    words = ["budget"] + (["minister"] if i % 4 else [])
    if i % 3 == 0:
        words += ["harbour"] * (1 + i // 10)
    if i < 2:
        words.append("lighthouse")
    return " ".join(words) + " and some filler text."


def index_thirty(press_office: PressOffice, settings):
    """Thirty statements made and projected; their views."""
    for i in range(30):
        press_office.create_statement(
            NewStatement(title=f"Statement {i}", body=body(i), kind="news"),
            actor="po",
        )
    views = open_views(settings)
    ProjectionWorker(press_office, views).catch_up()
    return views


@pytest.fixture
def indexed(press_office: PressOffice, settings):
    return index_thirty(press_office, settings)


@pytest.fixture
def on_postgres(tmp_path, postgres_url):
    """The thirty statements on PostgreSQL alone, without statistics."""
    settings = make_settings(tmp_path, postgres_url)
    app = PressOffice(env=settings.eventsourcing_env(), kinds=settings.kinds)
    yield index_thirty(app, settings)
    app.close()


def titles(found) -> list[str]:
    return [hit.document["title"] for hit in found.hits]


@pytest.mark.usefixtures("small_bounds")
def test_a_common_word_ranks_only_the_newest_matches(indexed):
    found = search.search(indexed, parse_query("budget"), limit=20)
    assert (found.total, found.exact) == (5, False)
    assert sorted(titles(found)) == [f"Statement {i}" for i in range(25, 30)]


@pytest.mark.usefixtures("small_bounds")
def test_a_word_rarer_in_the_window_finds_the_newest_of_its_matches(indexed):
    found = search.search(indexed, parse_query("harbour"), limit=20)
    assert (found.total, found.exact) == (5, False)
    newest = [i for i in range(30) if i % 3 == 0][-5:]
    assert sorted(titles(found)) == sorted(f"Statement {i}" for i in newest)
    # ranked: those that say it most (three times) first
    assert set(titles(found)[:3]) == {"Statement 21", "Statement 24", "Statement 27"}


@pytest.mark.usefixtures("small_bounds")
def test_a_word_only_in_old_statements_is_found_through_the_index(indexed):
    found = search.search(indexed, parse_query("lighthouse"), limit=20)
    assert (found.total, found.exact) == (2, True)
    assert titles(found) == ["Statement 1", "Statement 0"]


@pytest.mark.usefixtures("small_bounds")
def test_pages_of_the_candidates_hold_each_once(indexed):
    pages = [
        titles(search.search(indexed, parse_query("budget"), limit=2, offset=o))
        for o in (0, 2, 4)
    ]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert len({t for p in pages for t in p}) == 5


def test_with_few_matches_every_match_is_ranked(indexed):
    found = search.search(indexed, parse_query("harbour"), limit=20)
    assert (found.total, found.exact) == (10, True)
    assert set(titles(found)[:3]) == {"Statement 21", "Statement 24", "Statement 27"}


@pytest.mark.usefixtures("small_bounds")
def test_newest_first_lists_the_newest_matches(indexed):
    found = search.search(
        indexed, parse_query("budget"), limit=3, scope=Scope(newest_first=True)
    )
    assert titles(found) == ["Statement 29", "Statement 28", "Statement 27"]


def test_a_word_common_enough_is_found_by_reading_further_back(indexed, monkeypatch):
    """Three of the four newest say "minister": reading twice the rows where
    three more are expected costs less than the index's 22 matches."""
    monkeypatch.setattr(search, "CANDIDATES", 3)
    monkeypatch.setattr(search, "WINDOW", 4)

    def no_index(*args):
        raise AssertionError("the index was read")

    monkeypatch.setattr(search._PostgresSearch, "_indexed", staticmethod(no_index))
    found = search.search(indexed, parse_query("minister"), limit=20)
    assert (found.total, found.exact) == (3, False)
    assert sorted(titles(found)) == ["Statement 26", "Statement 27", "Statement 29"]


@pytest.fixture
def analysed(on_postgres):
    """The search table with the planner's statistics (ANALYZE, as the vacuum
    after a rebuild or autovacuum would take them)."""
    on_postgres.execute("ANALYZE {s}", s=search.TABLE)
    return on_postgres


def reads(monkeypatch, path: str) -> list[str]:
    """Records each call of the PostgreSQL search's path (_walk or _indexed)."""
    calls: list[str] = []
    original = getattr(search._PostgresSearch, path)

    def recorded(*args):
        calls.append(path)
        return original(*args)

    monkeypatch.setattr(search._PostgresSearch, path, staticmethod(recorded))
    return calls


@pytest.mark.usefixtures("small_bounds")
@pytest.mark.parametrize(
    ("views", "walks_expected"),
    [("analysed", []), ("on_postgres", ["_walk"])],
    ids=["with statistics: the index at once", "without: the window first"],
)
def test_a_rare_query_reads_the_window_only_without_statistics(
    views, walks_expected, request, monkeypatch
):
    store = request.getfixturevalue(views)
    walks = reads(monkeypatch, "_walk")
    found = search.search(store, parse_query("lighthouse"), limit=20)
    assert titles(found) == ["Statement 1", "Statement 0"]
    assert walks == walks_expected


@pytest.mark.usefixtures("small_bounds")
def test_a_common_query_still_reads_the_newest_first_with_statistics(
    analysed, monkeypatch
):
    indexes = reads(monkeypatch, "_indexed")
    found = search.search(analysed, parse_query("budget"), limit=20)
    assert sorted(titles(found)) == [f"Statement {i}" for i in range(25, 30)]
    assert indexes == []


def test_the_postgres_index_keeps_no_pending_list(tmp_path, postgres_url):
    """GIN's pending list (fastupdate) would be read through by every search:
    up to 4 MB of it, 23 ms for a one-hit query at 20,000 statements. (SQLite's
    FTS5 has no such list.)"""
    views = open_views(make_settings(tmp_path, postgres_url))
    rows = views.query(
        "SELECT array_to_string(reloptions, ',') AS options FROM pg_class "
        "JOIN pg_index ON pg_index.indexrelid = pg_class.oid "
        "JOIN pg_am ON pg_am.oid = pg_class.relam "
        "WHERE pg_index.indrelid = '{s}'::regclass AND pg_am.amname = 'gin'",
        s=search.TABLE,
    )
    views.datastore.close()
    assert [row["options"] for row in rows] == ["fastupdate=off"]


@pytest.mark.parametrize(
    ("language", "text", "stems"),
    [
        ("en", "The minister spoke at the harbour.", ""),  # the tokenizer stems it
        ("en", "A chef-d'Œuvre, an æon, her Ёлка.", "oeuvre aeon елка"),
        ("fr", "Les œuvres offertes", "le oeuvr offert"),
        ("ru", "перед концертом, ёлка", "перед концерт елк"),
        ("xx", "An œuvre in no stemmed language", "oeuvre"),
    ],
)
def test_the_stems_column_holds_what_the_tokenizer_cannot_find(language, text, stems):
    assert search.stems_of(language, text) == stems
