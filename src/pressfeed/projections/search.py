"""Full-text search over title, summary, body and tags, with each engine's own
index: an FTS5 table on SQLite (its rowid is the catalogue row's), a tsvector
with a GIN index on PostgreSQL, made with the text-search configuration of the
statement's language ("simple" for a language PostgreSQL has none for).

Every statement is indexed (the publishers' API searches drafts too); public
searches keep the published ones. A query is read as plain words: "quoted
phrases", -excluded words, and on SQLite a trailing * for a prefix; nothing a
reader types is a syntax error (on SQLite each word is quoted as an FTS5
string, on PostgreSQL websearch_to_tsquery never fails).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pressfeed.aggregates import Statement
from pressfeed.projections.base import BatchOutcome, ReadModel, View
from pressfeed.projections.catalogue import TABLE as CATALOGUE
from pressfeed.representation import StatementDocument
from pressfeed.storage import Dialect

TABLE = "pf_search"
MARK_START, MARK_END = "\x01", "\x02"  # XML-illegal, so never in a stored text
MAX_QUERY_LENGTH = 200
MAX_TERMS = 20

# Text-search configurations PostgreSQL (13 and later) ships, by language code.
LANGUAGE_CONFIGS = {
    "ar": "arabic", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "fi": "finnish", "fr": "french",
    "ga": "irish", "hu": "hungarian", "id": "indonesian", "it": "italian",
    "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian",
    "nb": "norwegian", "pt": "portuguese", "ro": "romanian", "ru": "russian",
    "sv": "swedish", "ta": "tamil", "tr": "turkish",
}  # fmt: skip
QUERY_CONFIGS = ("simple", *sorted(set(LANGUAGE_CONFIGS.values())))


def text_search_config(language: str) -> str:
    """The PostgreSQL configuration for a language tag ("fr-CA" -> french)."""
    return LANGUAGE_CONFIGS.get(language.split("-")[0].lower(), "simple")


class SearchView(View):
    tables = (TABLE,)

    def create_statements(self, dialect: Dialect) -> list[str]:
        if dialect.postgres:
            return [
                dialect.sql(
                    "CREATE TABLE IF NOT EXISTS {s} (id TEXT PRIMARY KEY, "
                    "config TEXT NOT NULL, document TSVECTOR NOT NULL)",
                    s=TABLE,
                ),
                dialect.sql(
                    f"CREATE INDEX IF NOT EXISTS {dialect.index('pf_search_by_document')} "
                    "ON {s} USING GIN (document)",
                    s=TABLE,
                ),
            ]
        return [
            dialect.sql(
                "CREATE VIRTUAL TABLE IF NOT EXISTS {s} USING fts5("
                "title, summary, body, tags, "
                "tokenize = 'porter unicode61 remove_diacritics 2')",
                s=TABLE,
            )
        ]

    def apply_final(self, cursor: Any, dialect: Dialect, batch: BatchOutcome) -> None:
        """Indexes each statement the batch changed once, as it now stands
        (after the catalogue, whose row it refers to)."""
        first_seen: dict[Any, Statement | None] = {}
        for change in batch.changes:
            first_seen.setdefault(change.after.id, change.before)
        statements = [
            s
            for s in batch.statements.values()
            if (before := first_seen.get(s.id)) is None
            or _indexed(before) != _indexed(s)
        ]
        if not statements:
            return
        if dialect.postgres:
            self._index_postgres(cursor, dialect, statements)
        else:
            self._index_sqlite(cursor, dialect, statements)

    @staticmethod
    def _index_sqlite(cursor: Any, dialect: Dialect, statements: list[Any]) -> None:
        ids = [(str(s.id),) for s in statements]
        cursor.executemany(
            dialect.sql(
                "DELETE FROM {s} WHERE rowid = (SELECT rowid FROM {c} WHERE id = ?)",
                s=TABLE,
                c=CATALOGUE,
            ),
            ids,
        )
        cursor.executemany(
            dialect.sql(
                "INSERT INTO {s} (rowid, title, summary, body, tags) "
                "SELECT rowid, ?, ?, ?, ? FROM {c} WHERE id = ?",
                s=TABLE,
                c=CATALOGUE,
            ),
            [
                (s.title, s.summary or "", s.body, " ".join(s.tags), str(s.id))
                for s in statements
            ],
        )

    @staticmethod
    def _index_postgres(cursor: Any, dialect: Dialect, statements: list[Any]) -> None:
        cursor.executemany(
            dialect.sql(
                "INSERT INTO {s} (id, config, document) VALUES (?, ?, "
                "setweight(to_tsvector(?::regconfig, ?), 'A') || "
                "setweight(to_tsvector(?::regconfig, ?), 'B') || "
                "setweight(to_tsvector(?::regconfig, ?), 'C') || "
                "setweight(to_tsvector('simple', ?), 'A')) "
                "ON CONFLICT (id) DO UPDATE SET config = excluded.config, "
                "document = excluded.document",
                s=TABLE,
            ),
            [
                (
                    str(s.id),
                    config,
                    config,
                    s.title,
                    config,
                    s.summary or "",
                    config,
                    s.body,
                    " ".join(s.tags),
                )
                for s in statements
                for config in [text_search_config(s.language)]
            ],
        )


def _indexed(statement: Statement) -> tuple[Any, ...]:
    """What the index holds of a statement: unchanged, it is not rewritten."""
    return (
        statement.title,
        statement.summary,
        statement.body,
        tuple(statement.tags),
        statement.language,
    )


@dataclass(frozen=True)
class SearchQuery:
    """A reader's query as words: phrases to find, words to exclude."""

    phrases: tuple[str, ...]
    excluded: tuple[str, ...]
    prefixes: frozenset[int]  # indexes of phrases that end in *
    text: str

    @property
    def empty(self) -> bool:
        return not any(_has_word(p) for p in self.phrases)


_CHUNK = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def _has_word(text: str) -> bool:
    return any(c.isalnum() for c in text)


def parse_query(text: str) -> SearchQuery:
    """Plain words, "phrases" and -exclusions; everything else is text."""
    text = " ".join(text.split())[:MAX_QUERY_LENGTH]
    phrases: list[str] = []
    excluded: list[str] = []
    prefixes: set[int] = set()
    for match in _CHUNK.finditer(text):
        negated, quoted, word = match.groups()
        if word is not None:
            negated, quoted = ("-", word[1:]) if word.startswith("-") else ("", word)
        if not _has_word(quoted):
            continue
        if negated:
            excluded.append(quoted)
        else:
            if quoted.endswith("*") and word is not None:
                prefixes.add(len(phrases))
                quoted = quoted.rstrip("*")
            phrases.append(quoted)
    return SearchQuery(
        tuple(phrases[:MAX_TERMS]),
        tuple(excluded[:MAX_TERMS]),
        frozenset(prefixes),
        text,
    )


def _fts5_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def fts5_query(query: SearchQuery) -> str:
    """The query in FTS5's syntax, every word quoted: never a syntax error."""
    terms = [
        _fts5_string(p) + ("*" if i in query.prefixes else "")
        for i, p in enumerate(query.phrases)
    ]
    expression = " AND ".join(terms)
    if query.excluded:
        expression += " NOT (" + " OR ".join(map(_fts5_string, query.excluded)) + ")"
    return expression


def websearch_text(phrases: tuple[str, ...]) -> str:
    """Phrases for PostgreSQL's websearch_to_tsquery, all of them required."""
    parts = [f'"{p}"' if " " in p else p for p in phrases]
    return " ".join(part.replace("\\", " ").replace("-", " ") for part in parts)


def postgres_tsquery(query: SearchQuery) -> tuple[str, list[str]]:
    """SQL of the tsquery and its parameters: the phrases in any language's
    configuration (the statement's own was used to index it), and none of the
    excluded words in any."""

    def in_any_config(text: str) -> tuple[str, list[str]]:
        sql = " || ".join(f"websearch_to_tsquery('{c}', ?)" for c in QUERY_CONFIGS)
        return f"({sql})", [text] * len(QUERY_CONFIGS)

    sql, params = in_any_config(websearch_text(query.phrases))
    if query.excluded:
        excluded, more = in_any_config(
            " or ".join(websearch_text((e,)) for e in query.excluded)
        )
        sql, params = f"{sql} && !!{excluded}", [*params, *more]
    return sql, params


@dataclass(frozen=True)
class Hit:
    """A statement found, with a snippet of plain text whose matched words lie
    between MARK_START and MARK_END."""

    document: StatementDocument
    snippet: str


@dataclass(frozen=True)
class Scope:
    """Which statements a search looks at, and in which order it answers."""

    status: str | None = "published"  # None: any (the publishers' search)
    kind: str | None = None
    newest_first: bool = False  # else best first, newest first among equals

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for column, value in (("status", self.status), ("kind", self.kind)):
            if value is not None:
                clauses.append(f"AND c.{column} = ? ")
                params.append(value)
        return "".join(clauses), params


PUBLIC = Scope()


def search(
    views: ReadModel,
    query: SearchQuery,
    *,
    limit: int,
    offset: int = 0,
    scope: Scope = PUBLIC,
) -> tuple[list[Hit], int]:
    """The statements matching within the scope, in its order, and how many
    match."""
    if query.empty:
        return [], 0
    if views.dialect.postgres:
        return _search_postgres(views, query, limit, offset, scope)
    return _search_sqlite(views, query, limit, offset, scope)


def _search_sqlite(
    views: ReadModel, query: SearchQuery, limit: int, offset: int, scope: Scope
) -> tuple[list[Hit], int]:
    visible, filters = scope.where()
    match = fts5_query(query)
    order = "c.published_us DESC" if scope.newest_first else "score"
    rows = views.query(
        "SELECT c.document, "
        "snippet({s}, 2, char(1), char(2), '…', 24) AS snippet, "
        "bm25({s}, 10.0, 5.0, 1.0, 8.0) AS score "
        "FROM {s} JOIN {c} c ON c.rowid = {s}.rowid "
        f"WHERE {{s}} MATCH ? {visible}"
        f"ORDER BY {order}, c.published_us DESC, c.created_position DESC "
        "LIMIT ? OFFSET ?",
        [match, *filters, limit, offset],
        s=TABLE,
        c=CATALOGUE,
    )
    total = views.query(
        "SELECT COUNT(*) AS n FROM {s} JOIN {c} c ON c.rowid = {s}.rowid "
        f"WHERE {{s}} MATCH ? {visible}",
        [match, *filters],
        s=TABLE,
        c=CATALOGUE,
    )
    return [_hit(row) for row in rows], int(total[0]["n"])


def _search_postgres(
    views: ReadModel, query: SearchQuery, limit: int, offset: int, scope: Scope
) -> tuple[list[Hit], int]:
    visible, filters = scope.where()
    tsquery, params = postgres_tsquery(query)
    order = "c.published_us DESC NULLS LAST" if scope.newest_first else "rank DESC"
    # The snippet marks the phrases in the statement's own configuration: a
    # headline of the query in every configuration costs seconds a row.
    options = (
        f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=35, MinWords=15, "
        "HighlightAll=false"
    )
    rows = views.query(
        f"WITH q AS (SELECT ({tsquery}) AS query) "
        "SELECT c.document, ts_rank(s.document, q.query) AS rank, "
        "ts_headline(s.config::regconfig, c.document::json->>'body', "
        "websearch_to_tsquery(s.config::regconfig, ?), ?) AS snippet "
        "FROM q, {s} s JOIN {c} c ON c.id = s.id "
        f"WHERE s.document @@ q.query {visible}"
        f"ORDER BY {order}, c.published_us DESC NULLS LAST, "
        "c.created_position DESC LIMIT ? OFFSET ?",
        [*params, websearch_text(query.phrases), options, *filters, limit, offset],
        s=TABLE,
        c=CATALOGUE,
    )
    total = views.query(
        f"WITH q AS (SELECT ({tsquery}) AS query) "
        "SELECT COUNT(*) AS n FROM q, {s} s JOIN {c} c ON c.id = s.id "
        f"WHERE s.document @@ q.query {visible}",
        [*params, *filters],
        s=TABLE,
        c=CATALOGUE,
    )
    return [_hit(row) for row in rows], int(total[0]["n"])


def _hit(row: Any) -> Hit:
    """A row as a hit; its document without body_html (rendered only if shown)."""
    document: StatementDocument = json.loads(row["document"])
    return Hit(document, " ".join((row["snippet"] or "").split()))
