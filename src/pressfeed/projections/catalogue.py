"""The catalogue: one row per statement with its current representation.

Serves the publisher's list (any status), and the public reads: a statement by
slug; the public ones newest publication first for the front page and the
all-messages pages; and, for the feeds, the public ones whose last public change
(publication, major amendment, withdrawal) is newest, filtered by kind or tag.

Beside it, the counts of the public statements per language, kind, status and
month of publication (and per year: month 0), the months and years of the
configured time zone (PRESSFEED_TIMEZONE): the all-messages pages read their
filter panel and their totals there, and turn a page number into a bounded
seek (the month where the page begins, then an offset within that month)
instead of counting and skipping every newer row.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pressfeed.aggregates import Statement, Status
from pressfeed.projections.base import BatchOutcome, ReadModel, View, load_document
from pressfeed.representation import StatementDocument
from pressfeed.storage import Dialect
from pressfeed.times import from_micros, micros, optional_micros


def optional_str(value: object) -> str | None:
    return None if value is None else str(value)


TABLE = "pf_catalogue"
TAGS = "pf_catalogue_tags"
COUNTS = "pf_catalogue_counts"
# Per group of translations, the Last-Modified of its latest change readers
# saw: each page of the group links the others, so dates its bytes at least
# by that (a translation withdrawn or unlinked leaves no row to date it by).
GROUP_STAMPS = "pf_translation_group_stamps"
WHOLE_YEAR = 0  # the month of a year's count row
FETCHED = 10_000  # rows read at a time when the counts are made afresh
UTC_ZONE = ZoneInfo("UTC")

CountKey = tuple[str, str, str, int, int]  # language, kind, status, year, month


def month_start(year: int, month: int, zone: ZoneInfo) -> datetime:
    """The first moment of a month in a time zone (month 13: next January)."""
    more, month = divmod(month - 1, 12)
    return datetime(year + more, month + 1, 1, tzinfo=zone)


def count_keys(statement: Statement | None, zone: ZoneInfo) -> tuple[CountKey, ...]:
    """The count rows a statement is counted in: its year's and its month's,
    once it was public."""
    if statement is None or statement.published_at is None:
        return ()
    local = statement.published_at.astimezone(zone)
    head = (statement.language, statement.kind, statement.status, local.year)
    return (*head, WHOLE_YEAR), (*head, local.month)


def public_change_us(statement: Statement) -> int | None:
    """When the public last saw it change (None while never public)."""
    if statement.published_at is None:
        return None
    return micros(statement.retracted_at or statement.updated_at)


class CatalogueView(View):
    tables = (TABLE, TAGS, COUNTS, GROUP_STAMPS)

    def __init__(self, zone: ZoneInfo | None = None) -> None:
        self.zone = zone or UTC_ZONE

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
                "ON {t} (kind, published_us, id)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_catalogue_by_speaker_and_publication')} "
                "ON {t} (speaker, published_us, id)",
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
            d.sql(
                "CREATE TABLE IF NOT EXISTS {c} (zone TEXT NOT NULL, "
                "language TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, "
                f"year INTEGER NOT NULL, month INTEGER NOT NULL, n {d.bigint} NOT NULL, "
                "PRIMARY KEY (zone, language, kind, status, year, month))",
                c=COUNTS,
            ),
            d.sql(
                "CREATE TABLE IF NOT EXISTS {g} (translation_group TEXT PRIMARY KEY, "
                f"stamp_us {d.bigint} NOT NULL)",
                g=GROUP_STAMPS,
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
        self._count(cursor, dialect, batch)
        self._stamp_groups(cursor, dialect, batch)

    def _stamp_groups(self, cursor: Any, dialect: Dialect, batch: BatchOutcome) -> None:
        """Moves the stamp of each group a change readers see was in (joined,
        left or inside)."""
        stamps: dict[str, int] = {}
        for change in batch.changes:
            if not change.shows_in_public:
                continue
            for group in batch.groups_of(change):
                stamps[group] = max(stamps.get(group, 0), change.last_modified_us)
        cursor.executemany(
            dialect.sql(
                "INSERT INTO {g} AS held (translation_group, stamp_us) "
                "VALUES (?, ?) ON CONFLICT (translation_group) DO UPDATE "
                "SET stamp_us = excluded.stamp_us "
                "WHERE excluded.stamp_us > held.stamp_us",
                g=GROUP_STAMPS,
            ),
            sorted(stamps.items()),
        )

    def _count(self, cursor: Any, dialect: Dialect, batch: BatchOutcome) -> None:
        """Moves each statement the batch changed to its count rows; counts
        everything afresh when the rows are of another time zone."""
        cursor.execute(dialect.sql("SELECT zone FROM {c} LIMIT 1", c=COUNTS))
        row = cursor.fetchone()
        if row is not None and row["zone"] != self.zone.key:
            self._count_afresh(cursor, dialect)
            return
        first_seen: dict[Any, Statement | None] = {}
        for change in batch.changes:
            first_seen.setdefault(change.after.id, change.before)
        deltas: Counter[CountKey] = Counter()
        for statement in batch.statements.values():
            deltas.subtract(count_keys(first_seen.get(statement.id), self.zone))
            deltas.update(count_keys(statement, self.zone))
        self._add(cursor, dialect, {k: n for k, n in deltas.items() if n})

    def _count_afresh(self, cursor: Any, dialect: Dialect) -> None:
        """Counts every public statement, FETCHED rows at a time in id order."""
        cursor.execute(dialect.sql("DELETE FROM {c}", c=COUNTS))
        counts: Counter[CountKey] = Counter()
        after = ""
        while True:
            cursor.execute(
                dialect.sql(
                    "SELECT id, language, kind, status, published_us FROM {t} "
                    "WHERE published_us IS NOT NULL AND id > ? ORDER BY id LIMIT ?",
                    t=TABLE,
                ),
                (after, FETCHED),
            )
            rows = cursor.fetchall()
            for row in rows:
                local = from_micros(int(row["published_us"])).astimezone(self.zone)
                head = (row["language"], row["kind"], row["status"], local.year)
                counts.update(((*head, WHOLE_YEAR), (*head, local.month)))
            if len(rows) < FETCHED:
                break
            after = rows[-1]["id"]
        self._add(cursor, dialect, counts)

    def _add(self, cursor: Any, dialect: Dialect, deltas: dict[CountKey, int]) -> None:
        """Adds to the count rows; a row that comes to nought is deleted."""
        rows = [(self.zone.key, *key, n) for key, n in sorted(deltas.items())]
        cursor.executemany(
            dialect.sql(
                "INSERT INTO {c} AS c (zone, language, kind, status, year, month, n) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (zone, language, kind, status, year, month) "
                "DO UPDATE SET n = c.n + excluded.n",
                c=COUNTS,
            ),
            rows,
        )
        cursor.executemany(
            dialect.sql(
                "DELETE FROM {c} WHERE zone = ? AND language = ? AND kind = ? "
                "AND status = ? AND year = ? AND month = ? AND n = 0",
                c=COUNTS,
            ),
            [row[:-1] for row in rows if row[-1] < 0],
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


def statements_in_review(views: ReadModel, limit: int) -> list[StatementDocument]:
    """The drafts and embargoed statements waiting for a publisher, newest
    first, however many newer drafts there are (read from the documents:
    they are few)."""
    in_review = (
        "(document::json->'review'->>'in_review') = 'true'"
        if views.dialect.postgres
        else "json_extract(document, '$.review.in_review') = 1"
    )
    rows = views.query(
        f"SELECT document FROM {{t}} WHERE status IN ('draft', 'scheduled') "
        f"AND {in_review} "
        "ORDER BY created_position DESC LIMIT ?",
        [limit],
        t=TABLE,
    )
    return [load_document(row["document"]) for row in rows]


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


def group_stamp(views: ReadModel, group: str) -> datetime | None:
    """The Last-Modified of the latest change of a group readers saw, if any."""
    rows = views.query(
        "SELECT stamp_us FROM {g} WHERE translation_group = ?", [group], g=GROUP_STAMPS
    )
    return from_micros(int(rows[0]["stamp_us"])) if rows else None


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
    speaker, published in a year or in a month of it (in the time zone)."""

    zone: ZoneInfo = UTC_ZONE
    language: str | None = None
    kind: str | None = None
    speaker: str | None = None
    year: int | None = None
    month: int | None = None  # with a year

    @property
    def since(self) -> datetime | None:
        if self.year is None:
            return None
        return month_start(self.year, self.month or 1, self.zone)

    @property
    def until(self) -> datetime | None:
        if self.year is None:
            return None
        return month_start(self.year, (self.month or 12) + 1, self.zone)

    def where(self) -> tuple[str, list[Any]]:
        """The condition on the catalogue's rows."""
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

    def count_where(self, *, months: bool = False) -> tuple[str, list[Any]]:
        """The condition on the count rows: the year rows, or the month rows."""
        month = self.month if self.year is not None else None
        clauses = [
            "zone = ?",
            "month <> ?" if months and month is None else "month = ?",
        ]
        params: list[Any] = [self.zone.key, month or WHOLE_YEAR]
        for clause, value in (
            ("language = ?", self.language),
            ("kind = ?", self.kind),
            ("year = ?", self.year),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return " AND ".join(clauses), params


class Reads(Protocol):
    """Where the reads run: the views (a transaction each), or OneRead."""

    def query(
        self, text: str, params: Sequence[Any] = (), **tables: str
    ) -> list[Any]: ...


@dataclass(frozen=True)
class OneRead:
    """Queries on one cursor: one transaction, one snapshot of the views."""

    cursor: Any
    dialect: Dialect

    def query(self, text: str, params: Sequence[Any] = (), **tables: str) -> list[Any]:
        self.cursor.execute(self.dialect.sql(text, **tables), tuple(params))
        return list(self.cursor.fetchall())


def zone_kept(views: Reads, zone: ZoneInfo) -> bool:
    """Whether the count rows are of this time zone (they are of one zone,
    another one's until the worker counts afresh), or there are none."""
    rows = views.query("SELECT zone FROM {c} LIMIT 1", c=COUNTS)
    return not rows or rows[0]["zone"] == zone.key


def counted(views: Reads, found: MessageFilter, kept: bool | None = None) -> bool:
    """Whether the count rows answer for these filters: they keep no speakers
    (kept: what zone_kept answered, if known)."""
    if found.speaker is not None:
        return False
    return zone_kept(views, found.zone) if kept is None else kept


@dataclass(frozen=True)
class MessagePage:
    """A page of /messages, how many match, and its filter panel's counts."""

    documents: list[StatementDocument]
    total: int
    kinds: dict[str, int]
    years: list[tuple[int, int]]


def message_page(
    views: ReadModel, found: MessageFilter, *, limit: int, offset: int
) -> MessagePage:
    """Everything a page of /messages reads, in one snapshot of the views."""
    with views.cursor() as cursor:
        reads = OneRead(cursor, views.dialect)
        kept = zone_kept(reads, found.zone)
        tally = YearKindTally.of(reads, found, kept)
        if tally is None:
            total = count_filtered(reads, found, kept)
            kinds = kind_counts(reads, found, kept)
            years = year_counts(reads, found, kept)
        else:
            total = tally.total(found.kind, found.year)
            kinds = tally.kinds(found.year)
            years = tally.years(found.kind)
        documents = (
            filtered_public(
                reads,
                found,
                limit=limit,
                offset=offset,
                kept=kept,
                years=None if tally is None else years,
            )
            if offset < total
            else []
        )
        return MessagePage(documents, total, kinds, years)


@dataclass(frozen=True)
class YearKindTally:
    """How many match per year and kind, read from the year count rows in one
    query: a page's total, the counts of its filter panel, and the year where
    a deep page begins, all come from it (four queries over a century of count
    rows before)."""

    counts: dict[tuple[int, str], int]

    @classmethod
    def of(cls, views: Reads, found: MessageFilter, kept: bool) -> YearKindTally | None:
        """The tally for a filter, or None when the year rows cannot answer:
        a speaker filter, count rows of another zone, or a month chosen (its
        total and kinds are in the month rows)."""
        if found.month is not None or not counted(views, found, kept):
            return None
        where, params = replace(found, kind=None, year=None).count_where()
        rows = views.query(
            f"SELECT year, kind, SUM(n) AS n FROM {{c}} WHERE {where} "
            "GROUP BY year, kind",
            params,
            c=COUNTS,
        )
        return cls({(int(row["year"]), row["kind"]): int(row["n"]) for row in rows})

    def total(self, kind: str | None, year: int | None) -> int:
        return sum(
            n
            for (y, k), n in self.counts.items()
            if kind in (None, k) and year in (None, y)
        )

    def kinds(self, year: int | None) -> dict[str, int]:
        """As kind_counts: per kind, in the year if one is chosen."""
        kinds: Counter[str] = Counter()
        for (y, kind), n in self.counts.items():
            if year in (None, y):
                kinds[kind] += n
        return {kind: n for kind, n in sorted(kinds.items()) if n}

    def years(self, kind: str | None) -> list[tuple[int, int]]:
        """As year_counts: per year, newest first, of the kind if one is chosen."""
        years: Counter[int] = Counter()
        for (year, k), n in self.counts.items():
            if kind in (None, k):
                years[year] += n
        return [(year, n) for year, n in sorted(years.items(), reverse=True) if n]


def filtered_public(
    views: Reads,
    found: MessageFilter,
    *,
    limit: int,
    offset: int = 0,
    kept: bool | None = None,
    years: list[tuple[int, int]] | None = None,
) -> list[StatementDocument]:
    """Statements that were ever public and match, newest publication first,
    as a list shows them: without their body rendered. A deep offset starts
    at the end of the month where it lies (the counts tell which), and skips
    only within that month. years: year_counts of the filter, if read."""
    where, params = found.where()
    seek = newest_first_seek(views, found, offset, kept, years)
    if seek is not None:
        bound, offset = seek
        where, params = f"{where} AND published_us < ?", [*params, bound]
    # The offset is skipped in an index (of publication and id, with the
    # filter's column), and only the page's own rows are read: reading every
    # skipped row, as a plain OFFSET does, read hundreds of rows a deep page.
    rows = views.query(
        f"SELECT c.document FROM {{t}} c JOIN (SELECT id, published_us FROM {{t}} "
        f"WHERE {where} ORDER BY published_us DESC, id DESC LIMIT ? OFFSET ?) "
        "page ON c.id = page.id ORDER BY page.published_us DESC, page.id DESC",
        [*params, limit, offset],
        t=TABLE,
    )
    return [json.loads(row["document"]) for row in rows]


def newest_first_seek(
    views: Reads,
    found: MessageFilter,
    offset: int,
    kept: bool | None = None,
    years: list[tuple[int, int]] | None = None,
) -> tuple[int, int] | None:
    """Where the offset-th newest match lies: the end of its month (micros,
    excluded) and its offset from there. None when the counts cannot tell.
    years: year_counts of the filter, if already read."""
    if offset == 0 or not counted(views, found, kept):
        return None
    year, month = found.year, found.month if found.year is not None else None
    if year is None:
        if years is None:
            where, params = found.count_where()
            located = locate(views, where, params, "year", offset, newest_first=True)
        else:
            located = locate_in(years, offset)
        if located is None:
            return None
        year, offset = located
    if month is None:
        where, params = replace(found, year=year).count_where(months=True)
        located = locate(views, where, params, "month", offset, newest_first=True)
        if located is None:
            return None
        month, offset = located
    return micros(month_start(year, month + 1, found.zone)), offset


def locate(
    views: Reads,
    where: str,
    params: list[Any],
    column: str,
    offset: int,
    *,
    newest_first: bool,
) -> tuple[int, int] | None:
    """The year or month (column) of the count rows where the offset-th row
    lies in that order, and the offset within it; None past the last."""
    order = "DESC" if newest_first else "ASC"
    rows = views.query(
        f"SELECT {column} AS at, SUM(n) AS n FROM {{c}} WHERE {where} "
        f"GROUP BY {column} ORDER BY {column} {order}",
        params,
        c=COUNTS,
    )
    return locate_in([(int(row["at"]), int(row["n"])) for row in rows], offset)


def locate_in(counts: Sequence[tuple[int, int]], offset: int) -> tuple[int, int] | None:
    """The key of the (key, count) pairs, in their order, where the offset-th
    row lies, and the offset within it; None past the last."""
    for at, n in counts:
        if offset < n:
            return at, offset
        offset -= n
    return None


def count_filtered(views: Reads, found: MessageFilter, kept: bool | None = None) -> int:
    """How many match."""
    if counted(views, found, kept):
        where, params = found.count_where()
        rows = views.query(
            f"SELECT SUM(n) AS n FROM {{c}} WHERE {where}", params, c=COUNTS
        )
    else:
        where, params = found.where()
        rows = views.query(
            f"SELECT COUNT(*) AS n FROM {{t}} WHERE {where}", params, t=TABLE
        )
    return int(rows[0]["n"] or 0)


def kind_counts(
    views: Reads, found: MessageFilter, kept: bool | None = None
) -> dict[str, int]:
    """How many match, per kind (the filter's own kind left out)."""
    others = replace(found, kind=None)
    if counted(views, others, kept):
        where, params = others.count_where()
        table = COUNTS
        text = f"SELECT kind, SUM(n) AS n FROM {{t}} WHERE {where} "
    else:
        where, params = others.where()
        table = TABLE
        text = f"SELECT kind, COUNT(*) AS n FROM {{t}} WHERE {where} "
    rows = views.query(f"{text}GROUP BY kind ORDER BY kind", params, t=table)
    return {row["kind"]: int(row["n"]) for row in rows if row["n"]}


def year_counts(
    views: Reads, found: MessageFilter, kept: bool | None = None
) -> list[tuple[int, int]]:
    """How many match per year, newest year first (the filter's own year and
    month left out)."""
    others = replace(found, year=None, month=None)
    if counted(views, others, kept):
        where, params = others.count_where()
        rows = views.query(
            f"SELECT year, SUM(n) AS n FROM {{c}} WHERE {where} "
            "GROUP BY year ORDER BY year DESC",
            params,
            c=COUNTS,
        )
        return [(int(row["year"]), int(row["n"])) for row in rows if row["n"]]
    counts = []
    first = first_publication(views, others, None)
    while first is not None:
        year = first.astimezone(found.zone).year
        counts.append((year, count_filtered(views, replace(others, year=year), kept)))
        first = first_publication(views, others, month_start(year + 1, 1, found.zone))
    return counts[::-1]


def first_publication(
    views: Reads, found: MessageFilter, since: datetime | None
) -> datetime | None:
    """The first publication of those that match, from a time if given."""
    where, params = found.where()
    if since is not None:
        where, params = f"{where} AND published_us >= ?", [*params, micros(since)]
    rows = views.query(
        f"SELECT MIN(published_us) AS first FROM {{t}} WHERE {where}", params, t=TABLE
    )
    first = rows[0]["first"]
    return None if first is None else from_micros(int(first))


def count_published(views: ReadModel) -> int:
    """Statements published now (withdrawn ones are not)."""
    rows = views.query(
        "SELECT SUM(n) AS n FROM {c} WHERE status = 'published' AND month = ?",
        [WHOLE_YEAR],
        c=COUNTS,
    )
    return int(rows[0]["n"] or 0)


def published_pages(
    views: ReadModel, *, limit: int, offset: int = 0
) -> list[tuple[str, datetime]]:
    """(slug, Last-Modified) of statements published now, first published
    first: what crawlers may index. A deep offset starts at the beginning of
    the month where it lies."""
    where, params = "status = 'published'", []
    seek = oldest_first_seek(views, offset)
    if seek is not None:
        bound, offset = seek
        where, params = f"{where} AND published_us >= ?", [bound]
    rows = views.query(
        f"SELECT slug, modified_us FROM {{t}} WHERE {where} "
        "ORDER BY published_us, id LIMIT ? OFFSET ?",
        [*params, limit, offset],
        t=TABLE,
    )
    return [(row["slug"], from_micros(int(row["modified_us"]))) for row in rows]


def oldest_first_seek(views: ReadModel, offset: int) -> tuple[int, int] | None:
    """Where the offset-th first published statement (published now) lies: the
    beginning of its month (micros) and its offset from there."""
    zones = views.query("SELECT zone FROM {c} LIMIT 1", c=COUNTS)
    if offset == 0 or not zones:
        return None
    zone = ZoneInfo(zones[0]["zone"])
    published = "status = 'published' AND zone = ?"
    located = locate(
        views,
        f"{published} AND month = ?",
        [zone.key, WHOLE_YEAR],
        "year",
        offset,
        newest_first=False,
    )
    if located is None:
        return None
    year, offset = located
    located = locate(
        views,
        f"{published} AND year = ? AND month <> ?",
        [zone.key, year, WHOLE_YEAR],
        "month",
        offset,
        newest_first=False,
    )
    if located is None:
        return None
    month, offset = located
    return micros(month_start(year, month, zone)), offset


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
