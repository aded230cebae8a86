"""The SQLite store's connections: what pressfeed sets on each."""

from __future__ import annotations

from pressfeed.assembly import Pressfeed
from pressfeed.storage import tables_of

SECURE_DELETE_FAST = 2  # what PRAGMA secure_delete reads for FAST


def secure_delete_of(tables) -> int:
    with tables.cursor() as cursor:
        cursor.execute("PRAGMA secure_delete")
        return int(cursor.fetchone()[0])


def test_every_connection_deletes_without_zeroing_freed_pages(sqlite_settings):
    """The event store's connections and the views' alike: a rebuild's drop of
    the replaced tables must not write them out again as zeros."""
    pressfeed = Pressfeed(sqlite_settings)
    try:
        recorder_tables = tables_of(pressfeed.press_office.recorder)
        assert secure_delete_of(recorder_tables) == SECURE_DELETE_FAST
        assert secure_delete_of(pressfeed.views.tables) == SECURE_DELETE_FAST
    finally:
        pressfeed.close()
