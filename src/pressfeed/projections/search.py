"""Full-text search over title, summary, body and tags, with each engine's own
index: an FTS5 table on SQLite (its rowid is the catalogue row's), a tsvector
with a GIN index on PostgreSQL, made with the text-search configuration of the
statement's language ("simple" for a language PostgreSQL has none for).
SQLite's tokenizer stems English only (porter): beside the text, the FTS5 row
holds its words as its language's Snowball stemmer gives them (stems), and a
query word also matches its stems in every such language there.

Every statement is indexed (the publishers' API searches drafts too); public
searches keep the published ones. A query is read as plain words: "quoted
phrases", -excluded words, and on SQLite a trailing * for a prefix; nothing a
reader types is a syntax error (on SQLite each word is quoted as an FTS5
string, on PostgreSQL websearch_to_tsquery never fails).
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from typing import Any

import Stemmer  # type: ignore[import-not-found]  # a C extension, no stubs

from pressfeed.aggregates import Statement
from pressfeed.projections.base import BatchOutcome, ReadModel, View
from pressfeed.projections.catalogue import COUNTS, WHOLE_YEAR
from pressfeed.projections.catalogue import TABLE as CATALOGUE
from pressfeed.rendering import strip_xml_illegal
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


# SQLite: the languages stemmed beside the text (English the tokenizer stems).
STEMMED = {
    code: name
    for code, name in LANGUAGE_CONFIGS.items()
    if code != "en" and name in Stemmer.algorithms()
}
# Letters written two ways: the ligatures of French, the Russian yo.
_FOLDED = str.maketrans(
    {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ё": "\u0435", "Ё": "\u0435"}
)
_WORD = re.compile(r"\w+")
_stemmers = threading.local()  # a Snowball stemmer is not to be shared by threads


def _stemmer(name: str) -> Any:
    cache = _stemmers.__dict__.setdefault("by_name", {})
    if name not in cache:
        cache[name] = Stemmer.Stemmer(name)
    return cache[name]


def folded(text: str) -> str:
    """The ligatures œ and æ as two letters, the Russian yo as ie: each is
    written both ways, and found either way."""
    return text.translate(_FOLDED)


def stems_of(language: str, text: str) -> str:
    """A text's words as its language's Snowball stemmer gives them, ligatures
    and yo folded; for English (the tokenizer's porter stems it) and a
    language with no stemmer, the words written with a ligature or yo, as
    written without."""
    casefolded = text.casefold()
    name = STEMMED.get(language.split("-")[0].lower())
    if name is None:
        if casefolded == (plain := folded(casefolded)):  # the common case, at once
            return ""
        written = _WORD.findall(casefolded)
        return " ".join(
            p for w, p in zip(written, _WORD.findall(plain), strict=True) if p != w
        )
    return " ".join(_stemmer(name).stemWords(_WORD.findall(folded(casefolded))))


def query_stems(phrase: str) -> list[str]:
    """A one-word phrase's stems in every stemmed language (none for a phrase
    of several words: those are matched as written)."""
    word = folded(phrase.casefold())
    if not _WORD.fullmatch(word):
        return []
    names = sorted(set(STEMMED.values()))
    return sorted({word} | {_stemmer(name).stemWord(word) for name in names})


class SearchView(View):
    tables = (TABLE,)

    def create_statements(self, dialect: Dialect) -> list[str]:
        if dialect.postgres:
            return [
                dialect.sql(
                    "CREATE TABLE IF NOT EXISTS {s} (id TEXT PRIMARY KEY, "
                    "config TEXT NOT NULL, document TSVECTOR NOT NULL, "
                    "position BIGINT NOT NULL, status TEXT NOT NULL, "
                    "kind TEXT NOT NULL, published_us BIGINT)",
                    s=TABLE,
                ),
                # No pending list: every search would read it through, up to
                # gin_pending_list_limit (4 MB, 20,000 statements) of it, 23 ms
                # for a one-hit query at 20,000 statements instead of 0.3 ms.
                dialect.sql(
                    f"CREATE INDEX IF NOT EXISTS {dialect.index('pf_search_by_document')} "
                    "ON {s} USING GIN (document) WITH (fastupdate = off)",
                    s=TABLE,
                ),
                dialect.sql(
                    f"CREATE INDEX IF NOT EXISTS {dialect.index('pf_search_by_position')} "
                    "ON {s} (position)",
                    s=TABLE,
                ),
            ]
        return [
            dialect.sql(
                "CREATE VIRTUAL TABLE IF NOT EXISTS {s} USING fts5("
                "title, summary, body, tags, stems, "
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
            or _indexed(before, dialect) != _indexed(s, dialect)
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
                "INSERT INTO {s} (rowid, title, summary, body, tags, stems) "
                "SELECT rowid, ?, ?, ?, ?, ? FROM {c} WHERE id = ?",
                s=TABLE,
                c=CATALOGUE,
            ),
            [
                (
                    s.title,
                    s.summary or "",
                    s.body,
                    " ".join(s.tags),
                    stems_of(s.language, f"{s.title} {s.summary or ''} {s.body}"),
                    str(s.id),
                )
                for s in statements
            ],
        )

    @staticmethod
    def _index_postgres(cursor: Any, dialect: Dialect, statements: list[Any]) -> None:
        cursor.executemany(
            dialect.sql(
                "INSERT INTO {s} (id, config, document, position, status, kind, "
                "published_us) SELECT ?, ?, "
                "setweight(to_tsvector(?::regconfig, ?), 'A') || "
                "setweight(to_tsvector(?::regconfig, ?), 'B') || "
                "setweight(to_tsvector(?::regconfig, ?), 'C') || "
                "setweight(to_tsvector('simple', ?), 'A'), "
                "created_position, status, kind, published_us FROM {c} WHERE id = ? "
                "ON CONFLICT (id) DO UPDATE SET config = excluded.config, "
                "document = excluded.document, status = excluded.status, "
                "kind = excluded.kind, published_us = excluded.published_us",
                s=TABLE,
                c=CATALOGUE,
            ),
            [
                (
                    str(s.id),
                    config,
                    config,
                    folded(s.title),
                    config,
                    folded(s.summary or ""),
                    config,
                    folded(s.body),
                    " ".join(s.tags),
                    str(s.id),
                )
                for s in statements
                for config in [text_search_config(s.language)]
            ],
        )


def _indexed(statement: Statement, dialect: Dialect) -> tuple[Any, ...]:
    """What the index holds of a statement (on PostgreSQL, with what a search
    selects and orders by, so that its walk needs no catalogue row):
    unchanged, it is not rewritten."""
    text = (
        statement.title,
        statement.summary,
        statement.body,
        tuple(statement.tags),
        statement.language,
    )
    if not dialect.postgres:
        return text
    return (*text, statement.status, statement.kind, statement.published_at)


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
    """Plain words, "phrases" and -exclusions; everything else is text. A
    control character separates words, as a space does: the query is echoed
    in pages and feeds, and FTS5 would read a NUL as the end of a string."""
    text = " ".join(strip_xml_illegal(text, " ").split())[:MAX_QUERY_LENGTH]
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
    """The query in FTS5's syntax, every word quoted: never a syntax error. A
    word also matches its stems (see query_stems) in the stems column."""
    terms = [
        _fts5_string(p) + "*" if i in query.prefixes else _word_or_stems(p)
        for i, p in enumerate(query.phrases)
    ]
    expression = " AND ".join(terms)
    if query.excluded:
        expression += " NOT (" + " OR ".join(map(_fts5_string, query.excluded)) + ")"
    return expression


def _word_or_stems(phrase: str) -> str:
    stems = query_stems(phrase)
    if not stems:
        return _fts5_string(phrase)
    either = " OR ".join(map(_fts5_string, stems))
    return f"({_fts5_string(phrase)} OR stems : ({either}))"


def websearch_text(phrases: tuple[str, ...]) -> str:
    """Phrases for PostgreSQL's websearch_to_tsquery, all of them required."""
    parts = [f'"{p}"' if " " in p else p for p in map(folded, phrases)]
    return " ".join(part.replace("\\", " ").replace("-", " ") for part in parts)


@dataclass(frozen=True)
class Hit:
    """A statement found, with a snippet of its body (its lines as written)
    whose matched words lie between MARK_START and MARK_END."""

    document: StatementDocument
    snippet: str


@dataclass(frozen=True)
class Found:
    """A page of hits, and how many match: exactly, or (when more than
    CANDIDATES match) at least total, of which the newest were ranked."""

    hits: list[Hit]
    total: int
    exact: bool


@dataclass(frozen=True)
class Scope:
    """Which statements a search looks at, and in which order it answers."""

    status: str | None = "published"  # None: any (the publishers' search)
    kind: str | None = None
    newest_first: bool = False  # else best first, newest first among equals

    def where(self, table: str = "c") -> tuple[str, list[Any]]:
        clauses, params = [], []
        for column, value in (("status", self.status), ("kind", self.kind)):
            if value is not None:
                clauses.append(f"AND {table}.{column} = ? ")
                params.append(value)
        return "".join(clauses), params


PUBLIC = Scope()
CANDIDATES = 1000  # past this many matches, only the newest are ranked
WINDOW = 3000  # PostgreSQL: the newest statements read first, to see how common
WALK_MARGIN = 2  # a walk further back reads this many times the rows expected
BEST_FIRST = "score, published_us DESC NULLS LAST, created_position DESC"
NEWEST_FIRST = "published_us DESC NULLS LAST, created_position DESC"


def search(
    views: ReadModel,
    query: SearchQuery,
    *,
    limit: int,
    offset: int = 0,
    scope: Scope = PUBLIC,
) -> Found:
    """The statements matching within the scope, in its order, and how many
    match. When more than CANDIDATES match, only the newest CANDIDATES are
    ranked (and listed): the work of a search is bounded however common its
    words; a snippet is made only for the hits shown."""
    if query.empty:
        return Found([], 0, True)
    engine = _PostgresSearch if views.dialect.postgres else _SQLiteSearch
    page = Page(scope, limit, offset)
    found, keys = engine.ranked(views, query, page)
    hits = engine.hits(views, query, keys) if keys else {}
    return Found(
        [hits[key] for key in keys if key in hits],
        min(found, CANDIDATES),
        found <= CANDIDATES,
    )


@dataclass(frozen=True)
class Page:
    """Which page of the ranked candidates is wanted."""

    scope: Scope
    limit: int
    offset: int

    def of(
        self, views: ReadModel, candidates: str, params: list[Any], **tables: str
    ) -> tuple[int, list[Any]]:
        """How many candidates the SQL found (k, published_us,
        created_position, score; the newest CANDIDATES + 1 at most, newest
        first), and the keys of this page of the newest CANDIDATES ranked.
        Ranked in the database: only a page's keys come back."""
        order = NEWEST_FIRST if self.scope.newest_first else BEST_FIRST
        rows = views.query(
            f"WITH found AS MATERIALIZED ({candidates}), "
            "kept AS (SELECT * FROM found "
            f"ORDER BY created_position DESC LIMIT {CANDIDATES}), "
            f"page AS (SELECT k, ROW_NUMBER() OVER (ORDER BY {order}) AS place "
            f"FROM kept ORDER BY {order} LIMIT ? OFFSET ?) "
            "SELECT t.n AS found, page.k FROM (SELECT count(*) AS n FROM found) t "
            "LEFT JOIN page ON TRUE ORDER BY page.place",
            [*params, self.limit, self.offset],
            **tables,
        )
        return int(rows[0]["found"]), [r["k"] for r in rows if r["k"] is not None]


class _SQLiteSearch:
    """FTS5: its doclists are in rowid order (the catalogue's, that is the
    order statements were made in), so the newest matches are read first and
    the scan stops after CANDIDATES + 1, bm25 computed only for those."""

    @staticmethod
    def ranked(
        views: ReadModel, query: SearchQuery, page: Page
    ) -> tuple[int, list[Any]]:
        visible, filters = page.scope.where()
        return page.of(
            views,
            "SELECT c.rowid AS k, c.published_us, c.created_position, "
            "bm25({s}, 10.0, 5.0, 1.0, 8.0, 1.0) AS score "
            "FROM {s} JOIN {c} c ON c.rowid = {s}.rowid "
            f"WHERE {{s}} MATCH ? {visible}"
            f"ORDER BY {{s}}.rowid DESC LIMIT {CANDIDATES + 1}",
            [fts5_query(query), *filters],
            s=TABLE,
            c=CATALOGUE,
        )

    @staticmethod
    def hits(views: ReadModel, query: SearchQuery, keys: list[Any]) -> dict[Any, Hit]:
        marks = ", ".join("?" * len(keys))
        rows = views.query(
            "SELECT c.rowid AS k, c.document, "
            "snippet({s}, 2, char(1), char(2), '…', 24) AS snippet "
            "FROM {s} JOIN {c} c ON c.rowid = {s}.rowid "
            f"WHERE {{s}} MATCH ? AND {{s}}.rowid IN ({marks})",
            [fts5_query(query), *keys],
            s=TABLE,
            c=CATALOGUE,
        )
        return {row["k"]: _hit(row) for row in rows}


class _PostgresSearch:
    """A GIN index finds every match, in no useful order: cheap for a rare
    query, dear for a common one. So the WINDOW newest statements are read
    first (by the position they were made at), and what share of them match
    decides: enough matches there, or a walk further back that costs less than
    the index would (a common query: the newest matches are found by reading
    newest first), or else the index (a rarer query). When the planner's
    statistics already call the query rare, the index is read at once."""

    @classmethod
    def ranked(
        cls, views: ReadModel, query: SearchQuery, page: Page
    ) -> tuple[int, list[Any]]:
        tsquery = distinct_tsquery(views, query)
        if tsquery is None:
            return 0, []
        if cls._surely_rare(views, tsquery):
            return cls._indexed(views, tsquery, page)
        found, keys = cls._walk(views, tsquery, page, WINDOW)
        if found > CANDIDATES:
            return found, keys
        rows = cls._rows(views)
        if rows <= WINDOW:
            return found, keys  # the window held every statement
        share = found / WINDOW
        walk = math.ceil(WALK_MARGIN * CANDIDATES / share) if share else rows
        if walk < rows * share:  # fewer rows to read than the index would find
            found, keys = cls._walk(views, tsquery, page, walk)
            if found > CANDIDATES:
                return found, keys
        return cls._indexed(views, tsquery, page)

    @staticmethod
    def _surely_rare(views: ReadModel, tsquery: tuple[str, list[str]]) -> bool:
        """Whether the planner's statistics (taken by the vacuum after a rebuild,
        or by autovacuum) say the query matches so few statements that the
        index would be chosen after the window anyway: then the window is not
        read (3,000 rows, the fixed cost of a rare query). Half the share at
        which a walk stops paying (see ranked), for a margin; never on a table
        without statistics or small enough for the window."""
        rows = views.query(
            "SELECT reltuples, COALESCE(pg_stat_get_last_analyze_time(oid), "
            "pg_stat_get_last_autoanalyze_time(oid)) IS NOT NULL AS analysed "
            "FROM pg_class WHERE oid = '{s}'::regclass",
            s=TABLE,
        )
        statements = float(rows[0]["reltuples"])
        if not rows[0]["analysed"] or statements <= WINDOW:
            return False
        sql, params = tsquery
        plan = views.query(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {{s}} WHERE document @@ {sql}",
            params,
            s=TABLE,
        )
        expected = float(plan[0]["QUERY PLAN"][0]["Plan"]["Plan Rows"])
        return (
            expected / statements < math.sqrt(WALK_MARGIN * CANDIDATES / statements) / 2
        )

    @staticmethod
    def _walk(
        views: ReadModel, tsquery: tuple[str, list[str]], page: Page, window: int
    ) -> tuple[int, list[Any]]:
        """The first CANDIDATES + 1 matches among the newest statements."""
        visible, filters = page.scope.where("w")
        sql, params = tsquery
        return page.of(
            views,
            "SELECT w.id AS k, w.published_us, w.position AS created_position, "
            f"-ts_rank(w.document, {sql}) AS score "
            "FROM (SELECT * FROM {s} "
            f"ORDER BY position DESC LIMIT {int(window)}) w "
            f"WHERE w.document @@ {sql} {visible}"
            f"ORDER BY w.position DESC LIMIT {CANDIDATES + 1}",
            [*params, *params, *filters],
            s=TABLE,
        )

    @staticmethod
    def _indexed(
        views: ReadModel, tsquery: tuple[str, list[str]], page: Page
    ) -> tuple[int, list[Any]]:
        """Every match through the index (kept apart, so that the planner
        cannot walk instead); the newest CANDIDATES + 1 ranked."""
        visible, filters = page.scope.where("m")
        sql, params = tsquery
        return page.of(
            views,
            "WITH m AS MATERIALIZED (SELECT id, position, published_us, status, "
            f"kind FROM {{s}} WHERE document @@ {sql}) "
            "SELECT n.id AS k, n.published_us, n.position AS created_position, "
            f"-ts_rank(s.document, {sql}) AS score "
            f"FROM (SELECT * FROM m WHERE TRUE {visible}"
            f"ORDER BY position DESC LIMIT {CANDIDATES + 1}) n "
            "JOIN {s} s ON s.id = n.id",
            [*params, *params, *filters],
            s=TABLE,
        )

    @staticmethod
    def _rows(views: ReadModel) -> int:
        """How many statements are indexed: counted up to WINDOW + 1; past
        that, about how many were ever public (the catalogue's counts)."""
        rows = views.query(
            "SELECT count(*) AS n FROM (SELECT 1 FROM {s} "
            f"ORDER BY position DESC LIMIT {WINDOW + 1}) w",
            s=TABLE,
        )
        if int(rows[0]["n"]) <= WINDOW:
            return int(rows[0]["n"])
        rows = views.query(
            "SELECT SUM(n) AS n FROM {c} WHERE month = ?", [WHOLE_YEAR], c=COUNTS
        )
        return max(WINDOW + 1, int(rows[0]["n"] or 0))

    @staticmethod
    def hits(views: ReadModel, query: SearchQuery, keys: list[Any]) -> dict[Any, Hit]:
        # The snippet marks the phrases in the statement's own configuration:
        # a headline of the query in every configuration costs seconds a row.
        options = (
            f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=35, "
            "MinWords=15, HighlightAll=false"
        )
        rows = views.query(
            "SELECT c.id AS k, c.document, "
            "ts_headline(s.config::regconfig, c.document::json->>'body', "
            "websearch_to_tsquery(s.config::regconfig, ?), ?) AS snippet "
            "FROM {s} s JOIN {c} c ON c.id = s.id WHERE c.id = ANY(?)",
            [websearch_text(query.phrases), options, keys],
            s=TABLE,
            c=CATALOGUE,
        )
        return {row["k"]: _hit(row) for row in rows}


def distinct_tsquery(
    views: ReadModel, query: SearchQuery
) -> tuple[str, list[str]] | None:
    """SQL of the query's tsquery and its parameters: the phrases in any
    language's configuration (the statement's own was used to index it), and
    none of the excluded words in any. Made of the distinct tsqueries the
    configurations give (most give the same), so that a row is checked against
    each once. None when no configuration keeps a word."""

    def distinct(text: str) -> list[str]:
        rows = views.query(
            "SELECT DISTINCT websearch_to_tsquery(c::regconfig, ?)::text AS t "
            "FROM unnest(?::text[]) AS c ORDER BY t",
            [text, list(QUERY_CONFIGS)],
        )
        return [row["t"] for row in rows if row["t"]]

    def either(texts: list[str]) -> str:
        return "(" + " || ".join("?::tsquery" for _ in texts) + ")"

    phrases = distinct(websearch_text(query.phrases))
    if not phrases:
        return None
    sql, params = either(phrases), phrases
    if query.excluded:
        excluded = distinct(" or ".join(websearch_text((e,)) for e in query.excluded))
        if excluded:
            sql, params = f"({sql} && !!{either(excluded)})", [*params, *excluded]
    return sql, params


def _hit(row: Any) -> Hit:
    """A row as a hit; its document without body_html (rendered only if shown)."""
    document: StatementDocument = json.loads(row["document"])
    return Hit(document, row["snippet"] or "")  # its lines: see marked_snippet
