"""The catalogue: one row per statement with its current representation.

Serves the publisher's list (any status), and the public reads: a statement by
slug; the public ones newest publication first for the front page and the
all-messages pages; and, for the feeds, the public ones whose last public change
(publication, major amendment, withdrawal) is newest, filtered by kind or tag.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pressfeed.aggregates import Statement, Status
from pressfeed.projections.base import BatchOutcome, ReadModel, View, load_document
from pressfeed.representation import StatementDocument
from pressfeed.storage import Dialect
from pressfeed.times import from_micros, micros, optional_micros


def optional_str(value: object) -> str | None:
    return None if value is None else str(value)


TABLE = "pf_catalogue"
TAGS = "pf_catalogue_tags"


def public_change_us(statement: Statement) -> int | None:
    """When the public last saw it change (None while never public)."""
    if statement.published_at is None:
        return None
    return micros(statement.retracted_at or statement.updated_at)


class CatalogueView(View):
    tables = (TABLE, TAGS)

    def create_statements(self, dialect: Dialect) -> list[str]:
        d = dialect
        return [
            d.sql(
                "CREATE TABLE IF NOT EXISTS {t} ("
                "id TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, "
                "language TEXT NOT NULL, translation_group TEXT, "
                "speaker TEXT, "
                f"status TEXT NOT NULL, created_position {d.bigint} NOT NULL, "
                f"published_us {d.bigint}, retracted_us {d.bigint}, "
                f"changed_us {d.bigint}, modified_us {d.bigint} NOT NULL, "
                "version INTEGER NOT NULL, document TEXT NOT NULL)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_catalogue_by_change')} "
                "ON {t} (changed_us, id)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_catalogue_by_kind_and_change')} "
                "ON {t} (kind, changed_us, id)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_catalogue_by_language_and_change')} "
                "ON {t} (language, changed_us, id)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_catalogue_by_language_and_publication')} "
                "ON {t} (language, published_us, id)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_catalogue_by_translation_group')} "
                "ON {t} (translation_group)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_catalogue_by_position')} "
                "ON {t} (created_position)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_catalogue_by_publication')} "
                "ON {t} (published_us, id)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_catalogue_by_kind_and_publication')} "
                "ON {t} (kind, published_us)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_catalogue_by_retraction')} "
                "ON {t} (retracted_us)",
                t=TABLE,
            ),
            d.sql(
                "CREATE TABLE IF NOT EXISTS {t} (tag TEXT NOT NULL, "
                f"statement_id TEXT NOT NULL, changed_us {d.bigint}, "
                "PRIMARY KEY (statement_id, tag))",  # deletes go by statement
                t=TAGS,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_catalogue_tags_by_change')} "
                "ON {t} (tag, changed_us, statement_id)",
                t=TAGS,
            ),
        ]

    def apply_final(self, cursor: Any, dialect: Dialect, batch: BatchOutcome) -> None:
        """Writes each statement the batch changed once, as it now stands."""
        statements = batch.statements.values()
        cursor.executemany(
            dialect.sql(
                "INSERT INTO {t} (id, slug, kind, language, translation_group, "
                "speaker, status, created_position, "
                "published_us, retracted_us, changed_us, modified_us, version, "
                "document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, "
                "translation_group = excluded.translation_group, "
                "speaker = excluded.speaker, "
                "status = excluded.status, published_us = excluded.published_us, "
                "retracted_us = excluded.retracted_us, "
                "changed_us = excluded.changed_us, modified_us = excluded.modified_us, "
                "version = excluded.version, document = excluded.document",
                t=TABLE,
            ),
            [
                (
                    str(s.id),
                    s.slug,
                    s.kind,
                    s.language,
                    optional_str(s.translation_group),
                    s.speaker,
                    s.status,
                    batch.created_at.get(s.id, 0),
                    optional_micros(s.published_at),
                    optional_micros(s.retracted_at),
                    public_change_us(s),
                    batch.last_change[s.id].last_modified_us,
                    s.version,
                    batch.document(s.id),
                )
                for s in statements
            ],
        )
        ids = [(str(s.id),) for s in statements]
        cursor.executemany(
            dialect.sql("DELETE FROM {t} WHERE statement_id = ?", t=TAGS), ids
        )
        cursor.executemany(
            dialect.sql(
                "INSERT INTO {t} (tag, statement_id, changed_us) VALUES (?, ?, ?)",
                t=TAGS,
            ),
            [
                (tag, str(s.id), public_change_us(s))
                for s in statements
                for tag in s.tags
            ],
        )


def list_statements(
    views: ReadModel,
    *,
    status: Status | None = None,
    kind: str | None = None,
    limit: int = 20,
    before_position: int | None = None,
) -> tuple[list[StatementDocument], int | None]:
    """Newest first; returns the page and the position to continue before, if any."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("status", status), ("kind", kind)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if before_position is not None:
        where.append("created_position < ?")
        params.append(before_position)
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    rows = views.query(
        "SELECT created_position, document FROM {t} "
        f"{clause}ORDER BY created_position DESC LIMIT ?",
        [*params, limit + 1],
        t=TABLE,
    )
    page = [load_document(row["document"]) for row in rows[:limit]]
    more = len(rows) > limit
    return page, (rows[limit - 1]["created_position"] if more else None)


def public_statement(views: ReadModel, slug: str) -> StatementDocument | None:
    """A statement that is or was public (published or retracted), by slug."""
    rows = views.query(
        "SELECT document FROM {t} WHERE slug = ? AND published_us IS NOT NULL",
        [slug],
        t=TABLE,
    )
    return load_document(rows[0]["document"]) if rows else None


def in_language(
    language: str | None, column: str = "language"
) -> tuple[str, list[str]]:
    """An SQL condition (beginning with AND) and its parameter keeping one
    language's statements; nothing for None (every language)."""
    if language is None:
        return "", []
    return f" AND {column} = ?", [language]


def latest_public(
    views: ReadModel, *, limit: int, offset: int = 0, language: str | None = None
) -> list[StatementDocument]:
    """Statements that were ever public, newest publication first (withdrawn ones
    included: the pages show their notices); of one language if given."""
    condition, params = in_language(language)
    rows = views.query(
        f"SELECT document FROM {{t}} WHERE published_us IS NOT NULL{condition} "
        "ORDER BY published_us DESC, id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
        t=TABLE,
    )
    return [load_document(row["document"]) for row in rows]


def latest_public_changes(
    views: ReadModel,
    *,
    limit: int,
    kind: str | None = None,
    tag: str | None = None,
    language: str | None = None,
) -> list[StatementDocument]:
    """Statements that were ever public, the newest public change (publication,
    major amendment, withdrawal) first: what the feeds carry, so a correction or
    a withdrawal of any age comes back to the top. Of one language if given."""
    if tag is not None:
        condition, params = in_language(language, "c.language")
        rows = views.query(
            "SELECT c.document FROM {tags} g JOIN {t} c ON c.id = g.statement_id "
            f"WHERE g.tag = ? AND g.changed_us IS NOT NULL{condition} "
            "ORDER BY g.changed_us DESC, g.statement_id DESC LIMIT ?",
            [tag, *params, limit],
            t=TABLE,
            tags=TAGS,
        )
    elif kind is not None:
        condition, params = in_language(language)
        rows = views.query(
            "SELECT document FROM {t} WHERE kind = ? AND changed_us IS NOT NULL"
            f"{condition} ORDER BY changed_us DESC, id DESC LIMIT ?",
            [kind, *params, limit],
            t=TABLE,
        )
    else:
        condition, params = in_language(language)
        rows = views.query(
            f"SELECT document FROM {{t}} WHERE changed_us IS NOT NULL{condition} "
            "ORDER BY changed_us DESC, id DESC LIMIT ?",
            [*params, limit],
            t=TABLE,
        )
    return [load_document(row["document"]) for row in rows]


def public_translations(
    views: ReadModel, document: StatementDocument
) -> list[StatementDocument]:
    """The published translations of a statement (not itself, not withdrawn)."""
    rows = views.query(
        "SELECT document FROM {t} WHERE translation_group = ? AND id <> ? "
        "AND translation_group IS NOT NULL AND status = 'published' "
        "ORDER BY language",
        [document.get("translation_group") or "", document["id"]],
        t=TABLE,
    )
    return [load_document(row["document"]) for row in rows]


def last_tombstone_expiry(views: ReadModel, since: datetime) -> datetime | None:
    """The newest retraction older than since (plus the tombstones' lifetime, it
    is when a feed last lost a tombstone), or None."""
    rows = views.query(
        "SELECT MAX(retracted_us) AS r FROM {t} "
        "WHERE retracted_us < ? AND published_us IS NOT NULL",
        [micros(since)],
        t=TABLE,
    )
    value = rows[0]["r"]
    return None if value is None else from_micros(int(value))


@dataclass(frozen=True)
class MessageFilter:
    """Which public statements /messages lists: in a language, of a kind, of a
    speaker, published within [since, until)."""

    language: str | None = None
    kind: str | None = None
    speaker: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = ["published_us IS NOT NULL"], []
        for clause, value in (
            ("language = ?", self.language),
            ("kind = ?", self.kind),
            ("speaker = ?", self.speaker),
            ("published_us >= ?", self.since and micros(self.since)),
            ("published_us < ?", self.until and micros(self.until)),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return " AND ".join(clauses), params


def filtered_public(
    views: ReadModel, found: MessageFilter, *, limit: int, offset: int = 0
) -> list[StatementDocument]:
    """Statements that were ever public and match, newest publication first."""
    where, params = found.where()
    rows = views.query(
        f"SELECT document FROM {{t}} WHERE {where} "
        "ORDER BY published_us DESC, id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
        t=TABLE,
    )
    return [load_document(row["document"]) for row in rows]


def count_filtered(views: ReadModel, found: MessageFilter) -> int:
    where, params = found.where()
    rows = views.query(
        f"SELECT COUNT(*) AS n FROM {{t}} WHERE {where}", params, t=TABLE
    )
    return int(rows[0]["n"])


def kind_counts(views: ReadModel, found: MessageFilter) -> dict[str, int]:
    """How many match, per kind (the filter's own kind left out)."""
    where, params = replace(found, kind=None).where()
    rows = views.query(
        f"SELECT kind, COUNT(*) AS n FROM {{t}} WHERE {where} "
        "GROUP BY kind ORDER BY kind",
        params,
        t=TABLE,
    )
    return {row["kind"]: int(row["n"]) for row in rows}


def publication_span(
    views: ReadModel, found: MessageFilter
) -> tuple[datetime, datetime] | None:
    """The first and last publication of those that match, if any."""
    where, params = found.where()
    rows = views.query(
        f"SELECT MIN(published_us) AS first, MAX(published_us) AS last "
        f"FROM {{t}} WHERE {where}",
        params,
        t=TABLE,
    )
    if rows[0]["first"] is None:
        return None
    return from_micros(int(rows[0]["first"])), from_micros(int(rows[0]["last"]))


def count_published(views: ReadModel) -> int:
    """Statements published now (withdrawn ones are not)."""
    rows = views.query(
        "SELECT COUNT(*) AS n FROM {t} WHERE status = 'published'", t=TABLE
    )
    return int(rows[0]["n"])


def published_pages(
    views: ReadModel, *, limit: int, offset: int = 0
) -> list[tuple[str, datetime]]:
    """(slug, Last-Modified) of statements published now, first published
    first: what crawlers may index."""
    rows = views.query(
        "SELECT slug, modified_us FROM {t} WHERE status = 'published' "
        "ORDER BY published_us, id LIMIT ? OFFSET ?",
        [limit, offset],
        t=TABLE,
    )
    return [(row["slug"], from_micros(int(row["modified_us"]))) for row in rows]


def count_public(views: ReadModel, language: str | None = None) -> int:
    condition, params = in_language(language)
    rows = views.query(
        f"SELECT COUNT(*) AS n FROM {{t}} WHERE published_us IS NOT NULL{condition}",
        params,
        t=TABLE,
    )
    return int(rows[0]["n"])


def recent_retractions(
    views: ReadModel, since: datetime, language: str | None = None
) -> list[StatementDocument]:
    """Public statements retracted since a time, newest first: the tombstones."""
    condition, params = in_language(language)
    rows = views.query(
        "SELECT document FROM {t} WHERE retracted_us >= ? AND published_us IS NOT NULL"
        f"{condition} ORDER BY retracted_us DESC, id DESC",
        [micros(since), *params],
        t=TABLE,
    )
    return [load_document(row["document"]) for row in rows]
