"""The WebSub outbox: which feeds a public change showed in, written with the
views (so a crash loses no ping). The pinger (pressfeed.websub) reads it, turns
each feed into its URLs, and tells the hubs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pressfeed.projections.base import BatchOutcome, Change, ReadModel, View
from pressfeed.projections.catalogue import TABLE as CATALOGUE
from pressfeed.projections.catalogue import TAGS as CATALOGUE_TAGS
from pressfeed.projections.changes import public_change
from pressfeed.storage import Dialect
from pressfeed.urls import ALL_STATEMENTS, KIND, TAG, FeedScope

TABLE = "pf_websub_outbox"
CHANGES = "changes"  # the changes feed, beside the statement feeds


def feeds_of(change: Change) -> set[FeedScope]:
    """The feeds a change readers see shows in (before and after, for kind and
    tags; a minor amendment too), each of the statement's language: the pinger
    knows which language is the root's. The changes feed only for the changes
    it lists."""
    statements = [s for s in (change.before, change.after) if s is not None]
    feeds = statement_feeds(
        change.after.language,
        {s.kind for s in statements},
        {tag for s in statements for tag in s.tags},
    )
    if public_change(change) is not None:
        feeds.add(FeedScope(CHANGES, "", change.after.language))
    return feeds


def statement_feeds(language: str, kinds: set[str], tags: set[str]) -> set[FeedScope]:
    """The statement feeds of a language that show a statement of these kinds
    and tags."""
    feeds = {replace(ALL_STATEMENTS, language=language)}
    feeds |= {FeedScope(KIND, kind, language) for kind in kinds}
    feeds |= {FeedScope(TAG, tag, language) for tag in tags}
    return feeds


def feeds_of_groups(cursor: Any, dialect: Dialect, groups: set[str]) -> set[FeedScope]:
    """The feeds showing the published statements of these groups: each entry
    links its published translations (Atom), so a change of one is a change of
    the others' entries."""
    feeds: set[FeedScope] = set()
    for group in sorted(groups):
        cursor.execute(
            dialect.sql(
                "SELECT c.language, c.kind, t.tag FROM {c} c "
                "LEFT JOIN {t} t ON t.statement_id = c.id "
                "WHERE c.translation_group = ? AND c.status = 'published'",
                c=CATALOGUE,
                t=CATALOGUE_TAGS,
            ),
            (group,),
        )
        for row in cursor.fetchall():
            tags = {row["tag"]} if row["tag"] is not None else set()
            feeds |= statement_feeds(row["language"], {row["kind"]}, tags)
    return feeds


class WebSubOutboxView(View):
    tables = (TABLE,)

    def create_statements(self, dialect: Dialect) -> list[str]:
        d = dialect
        return [
            d.sql(
                "CREATE TABLE IF NOT EXISTS {t} (what TEXT NOT NULL, "
                "value TEXT NOT NULL, language TEXT NOT NULL, "
                "attempts INTEGER NOT NULL, "
                f"due_us {d.bigint} NOT NULL, PRIMARY KEY (what, value, language))",
                t=TABLE,
            )
        ]

    def apply_final(self, cursor: Any, dialect: Dialect, batch: BatchOutcome) -> None:
        """Every feed that a change of the batch readers see shows in, once
        (the feeds of its published translations too)."""
        seen = [change for change in batch.changes if change.shows_in_public]
        feeds = {feed for change in seen for feed in feeds_of(change)}
        groups = {group for change in seen for group in batch.groups_of(change)}
        feeds |= feeds_of_groups(cursor, dialect, groups)
        if not feeds:
            return
        cursor.executemany(
            dialect.sql(
                "INSERT INTO {t} (what, value, language, attempts, due_us) "
                "VALUES (?, ?, ?, 0, 0) ON CONFLICT (what, value, language) "
                "DO UPDATE SET attempts = 0, due_us = 0",
                t=TABLE,
            ),
            [(feed.what, feed.value, feed.language) for feed in sorted(feeds)],
        )


def due_feeds(views: ReadModel, now_us: int, limit: int = 200) -> list[Any]:
    """Rows (what, value, language, attempts) of the feeds whose ping is due."""
    return views.query(
        "SELECT what, value, language, attempts FROM {t} WHERE due_us <= ? "
        "ORDER BY what, value, language LIMIT ?",
        [now_us, limit],
        t=TABLE,
    )


def mark_sent(views: ReadModel, feed: FeedScope) -> None:
    views.execute(
        "DELETE FROM {t} WHERE what = ? AND value = ? AND language = ?",
        [feed.what, feed.value, feed.language],
        t=TABLE,
    )


def postpone(views: ReadModel, feed: FeedScope, attempts: int, due_us: int) -> None:
    views.execute(
        "UPDATE {t} SET attempts = ?, due_us = ? "
        "WHERE what = ? AND value = ? AND language = ?",
        [attempts, due_us, feed.what, feed.value, feed.language],
        t=TABLE,
    )
