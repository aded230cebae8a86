"""Full-text search: the projection on SQLite (FTS5) and PostgreSQL (tsvector),
/search, the publishers' GET /api/statements?q= and the search feed."""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser
import lxml.etree
import lxml.html
import pytest

from pressfeed.projections.search import fts5_query, parse_query
from tests.conftest import make_settings


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request, tmp_path):
    """An office publishing in English, Russian and French: search spans all."""
    url = (
        request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    )
    return make_settings(tmp_path, url, PRESSFEED_LANGUAGES="en,ru,fr")


def results(client, query: str) -> list[str]:
    response = client.get("/search", query_string={"q": query})
    assert response.status_code == 200, response.get_data(as_text=True)
    tree = lxml.html.fromstring(response.data)
    return [
        a.text_content().split(" - ", 1)[1] for a in tree.cssselect(".results h2 a")
    ]


@pytest.fixture
def corpus(desk):
    desk.create(
        title="Visa rules",
        body="The consulate answers questions about the new **visa** regime.",
        tags=["consular"],
        published_at="2017-05-01T10:00:00+00:00",
    )
    desk.create(
        title="Reception",
        body="A reception for the national day, with music.",
        summary="The embassy invites the press.",
        published_at="2018-05-01T10:00:00+00:00",
    )
    desk.create(title="Draft about visa", body="Secret visa plans.", draft=True)
    desk.create(
        title="Интервью посла",
        body="Посол ответил на вопросы о визах и культуре.",  # noqa: RUF001
        language="ru",
    )
    gone = desk.create(title="Withdrawn visa notice", body="Wrong visa dates.")
    desk.retract(gone)


def test_search_finds_a_statement_by_a_word_of_its_body(client, corpus):
    assert results(client, "consulate") == ["Visa rules"]
    assert results(client, "music") == ["Reception"]
    assert results(client, "культуре") == ["Интервью посла"]


def test_search_looks_at_title_summary_and_tags(client, corpus):
    assert results(client, "invites") == ["Reception"]
    assert results(client, "consular") == ["Visa rules"]


def test_search_never_returns_drafts_or_withdrawn_statements(client, corpus):
    assert results(client, "visa") == ["Visa rules"]
    assert results(client, "secret") == []


def test_snippets_mark_the_matched_words_safely(client, desk):
    desk.create(title="Markup", body="Beware <script>alert(1)</script> of the ferry.")
    response = client.get("/search?q=ferry")
    tree = lxml.html.fromstring(response.data)
    snippet = tree.cssselect(".results .snippet")[0]
    assert [m.text for m in snippet.cssselect("mark")] == ["ferry"]
    assert b"<script>" not in response.data
    assert not snippet.cssselect("script")
    assert "alert(1)" in snippet.text_content()  # shown as text (PostgreSQL
    # leaves the tag out of its headline, SQLite shows it escaped)


def import_bulletins(services, count: int) -> None:
    """count weekly bulletins with the same words, published a day apart."""
    from datetime import UTC, datetime, timedelta

    from pressfeed.application import NewStatement

    services.press_office.import_statements(
        [
            NewStatement(
                title=f"Bulletin {i:02d}",
                body="Weekly bulletin.",
                kind="news",
                published_at=datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=i),
            )
            for i in range(count)
        ],
        actor="import",
    )


def test_equal_matches_come_newest_first_twenty_a_page(client, desk, services):
    import_bulletins(services, 25)
    desk.settle()
    first = results(client, "weekly")
    assert first == [f"Bulletin {i:02d}" for i in range(24, 4, -1)]
    response = client.get("/search?q=weekly&page=2")
    tree = lxml.html.fromstring(response.data)
    assert len(tree.cssselect(".results li")) == 5


def test_past_the_candidates_the_page_says_the_newest_are_listed(
    client, desk, services, monkeypatch
):
    from pressfeed.projections import search

    monkeypatch.setattr(search, "CANDIDATES", 4)
    import_bulletins(services, 6)
    desk.settle()
    assert results(client, "weekly") == [f"Bulletin {i:02d}" for i in range(5, 1, -1)]
    tree = lxml.html.fromstring(client.get("/search?q=weekly").data)
    assert "More than 4 statements found; the 4 newest are listed" in (
        tree.cssselect("main .meta")[0].text_content()
    )


@pytest.mark.parametrize(
    "query",
    [
        '"unclosed phrase',
        "visa NEAR(consulate, 2)",
        "vis*",
        "*",
        "-visa",
        "- -",
        "((visa)",
        "visa OR AND NOT",
        "title:visa",
        "^visa",
        '""""',
        "\u0000\ufffe",
        "a\u0000",
        "a\u0000b",
        '"a\u0000b"',
        "visa -\u0000a",
        "visa\u0001x",
        "visa\u001b[31m",
        "visa \uffff",
        "日本語 ✓ émigré",
        "a" * 500,
        "\\",
        "'; DROP TABLE pf_catalogue; --",
        ":",
        "%s %(x)s {s}",
    ],
)
def test_no_query_is_a_server_error(client, publisher, corpus, query):
    for path in ("/search", "/feeds/search.atom", "/api/statements"):
        response = client.get(path, query_string={"q": query}, headers=publisher)
        assert response.status_code < 500, (path, response.get_data(as_text=True))
        if path.endswith(".atom") and response.status_code == 200:
            lxml.etree.fromstring(response.data)  # well-formed, whatever the query


def test_query_syntax_is_plain_words_phrases_and_exclusions():
    query = parse_query('visa "new regime" -tourist consul* NEAR(')
    assert query.phrases == ("visa", "new regime", "consul", "NEAR(")
    assert query.excluded == ("tourist",)
    assert fts5_query(query) == (
        '("visa" OR stems : ("vis" OR "visa")) AND "new regime" AND "consul"* '
        'AND "NEAR(" NOT ("tourist")'
    )  # a word matches its stems in the languages SQLite's tokenizer does not stem


def test_phrases_and_exclusions_work_on_both_engines(client, corpus):
    assert results(client, '"new visa regime"') == ["Visa rules"]
    assert results(client, '"visa new"') == []
    assert results(client, "visa -consulate") == []
    assert results(client, "reception -visa") == ["Reception"]


def test_publishers_search_drafts_too(client, publisher, corpus):
    response = client.get("/api/statements?q=visa", headers=publisher)
    assert response.status_code == 200
    titles = {item["title"] for item in response.get_json()["items"]}
    assert titles == {"Visa rules", "Draft about visa", "Withdrawn visa notice"}
    drafts = client.get("/api/statements?q=visa&status=draft", headers=publisher)
    assert [i["title"] for i in drafts.get_json()["items"]] == ["Draft about visa"]
    page = client.get("/api/statements?q=visa&limit=2", headers=publisher).get_json()
    assert len(page["items"]) == 2 and page["next_cursor"] == "2"
    rest = client.get(
        "/api/statements?q=visa&limit=2&cursor=2", headers=publisher
    ).get_json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert client.get("/api/statements?q=visa").status_code == 401


def test_every_search_is_a_feed(client, desk, corpus):
    response = client.get("/feeds/search.atom?q=visa")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.data)
    assert not feed.bozo
    assert [e.title for e in feed.entries] == ["Visa rules"]
    etag = response.headers["ETag"]
    again = client.get("/feeds/search.atom?q=visa", headers={"If-None-Match": etag})
    assert again.status_code == 304
    desk.create(title="Visa hours", body="Open on Monday.")
    fresh = client.get("/feeds/search.atom?q=visa", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag
    assert [e.title for e in feedparser.parse(fresh.data).entries] == [
        "Visa hours",
        "Visa rules",
    ]


def test_a_feed_without_entries_is_dated_by_the_last_public_change(
    client, services, corpus
):
    """Not 1970: a feed reader shows a search feed's date before any entry."""
    stamp = services.views.public_stamp().replace(microsecond=0)
    feed = feedparser.parse(client.get("/feeds/kind/speech.atom").data)
    assert feed.entries == []
    assert datetime(*feed.feed.updated_parsed[:6], tzinfo=UTC) == stamp
    # A search feed carries the recent withdrawals' tombstones: dated by them.
    feed = feedparser.parse(client.get("/feeds/search.atom?q=zebra").data)
    assert feed.entries == []
    assert datetime(*feed.feed.updated_parsed[:6], tzinfo=UTC).year > 1970


def test_the_search_box_is_on_every_page(client, corpus):
    tree = lxml.html.fromstring(client.get("/").data)
    form = tree.cssselect("header form.search-box")[0]
    assert form.get("action") == "/search"
    assert form.cssselect("input[name=q]")


def test_snippets_show_text_not_markdown(client, desk):
    desk.create(
        title="Visa appointments",
        body="> A quote about the ferry.\n\n"
        "- Book on the [appointments page](https://example.org/visas) for the ferry.\n"
        "1. Then ![a map](https://example.org/map.png) of the ferry.",
    )
    tree = lxml.html.fromstring(client.get("/search?q=ferry").data)
    text = tree.cssselect(".results .snippet")[0].text_content()
    assert "appointments page" in text
    for markdown in ("](", "https://example.org", "> A", "- Book", "1. Then", "!["):
        assert markdown not in text, markdown


def test_a_combining_mark_stays_with_its_matched_letter(services):
    from pressfeed.web.site import marked_snippet

    snippet = "x \x01a\x02\u0335 y"  # a matched "a" with a combining stroke
    assert str(marked_snippet(snippet)) == "x <mark>a\u0335</mark> y"


@pytest.mark.parametrize("q", ["🎉", "*", "-"])
def test_a_search_without_words_says_nothing_was_found(client, corpus, q):
    tree = lxml.html.fromstring(client.get("/search", query_string={"q": q}).data)
    assert tree.cssselect("main p.meta")[0].text_content() == "Nothing found."


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("концерт", ["Концерт посольства"]),
        ("посольство", ["Концерт посольства", "Посольство закрыто"]),
        ("праздники", ["Концерт посольства"]),
        ("ежик", ["Концерт посольства"]),  # written ёжик
        ("oeuvre", ["Une œuvre offerte"]),  # written œuvre
        ("offertes", ["Une œuvre offerte"]),
        ('"концертом посольства"', ["Концерт посольства"]),  # a phrase as written
        ("encyclopaedia", ["An encyclopædia"]),  # English: folded, not stemmed
    ],
)
def test_russian_and_french_words_are_found_in_their_other_forms(
    client, desk, query, found
):
    """The engines stem each statement's own language: a reader types a word
    in any of its forms, or without its ligature or yo."""
    desk.create(
        title="Концерт посольства",
        body="Приглашаем на праздник: перед концертом посольства ёжик и ёлка.",
        language="ru",
    )
    desk.create(
        title="Посольство закрыто", body="Закрыто в понедельник.", language="ru"
    )
    desk.create(title="Une œuvre offerte", body="Au musée.", language="fr")
    desk.create(title="An encyclopædia", body="Given to the library.")
    assert sorted(results(client, query)) == sorted(found)


@pytest.mark.parametrize(
    ("snippet", "shown"),
    [
        ("Attendance: > 500 guests", "Attendance: > 500 guests"),
        ("Temperatures fell. - 5 °C", "Temperatures fell. - 5 °C"),
        ("Le bilan : 3) victimes", "Le bilan : 3) victimes"),
        ("He wrote [sic] twice", "He wrote [sic] twice"),
        ("> A quote\n- an item\n2. a step", "A quote an item a step"),
        ("See the [page](https://example.org/x) now", "See the page now"),
    ],
)
def test_a_snippet_loses_markdown_marks_but_not_words(snippet, shown):
    from pressfeed.web.site import marked_snippet

    html = f"<p>{marked_snippet(snippet)}</p>"
    assert lxml.html.fromstring(html).text_content() == shown


def test_a_search_feed_tells_its_readers_of_a_withdrawal(client, desk, corpus):
    """The withdrawn statement no longer matches; the feed's tombstone tells a
    reader holding it to drop its text."""
    feed = feedparser.parse(client.get("/feeds/search.atom?q=visa").data)
    (entry,) = feed.entries
    statement = client.get(
        "/api/statements/visa-rules", headers=desk.headers
    ).get_json()
    desk.retract(statement)
    after = client.get("/feeds/search.atom?q=visa").data
    assert feedparser.parse(after).entries == []
    tree = lxml.etree.fromstring(after)
    refs = tree.xpath(
        "//at:deleted-entry/@ref",
        namespaces={"at": "http://purl.org/atompub/tombstones/1.0"},
    )
    assert entry.id in refs
