"""Summaries and speakers: given on create and amend, shown in lists and feeds."""

from __future__ import annotations

import feedparser
import lxml.html
import pytest

from pressfeed.representation import teaser


def test_a_statement_keeps_its_summary_and_speaker_through_an_amendment(desk):
    statement = desk.create(
        summary="  The embassy\nanswers.  ", speaker="Press Officer", kind="news"
    )
    assert statement["summary"] == "The embassy answers."
    assert statement["speaker"] == "Press Officer"
    amended = desk.amend(statement, summary="", speaker="Ambassador")
    assert amended["summary"] is None
    assert amended["speaker"] == "Ambassador"


@pytest.mark.parametrize(
    "fields",
    [{"summary": "x" * 601}, {"speaker": "   "}, {"summary": 5}],
)
def test_a_summary_or_speaker_out_of_bounds_is_refused(client, publisher, fields):
    response = client.post(
        "/api/statements",
        json={"title": "T", "body": "B", "kind": "news", **fields},
        headers=publisher,
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"


def test_the_speaker_shows_under_the_title_and_as_the_feed_author(client, desk):
    desk.create(
        title="Remarks",
        body="First words of the remarks.\n\nSecond paragraph.",
        speaker="Ambassador",
    )
    page = lxml.html.fromstring(client.get("/statements/remarks").data)
    assert page.cssselect("article.statement .speaker")[0].text == "Ambassador"
    atom = feedparser.parse(client.get("/feeds/all.atom").data)
    entry = atom.entries[0]
    assert entry.author == "Ambassador"
    assert entry.summary == "First words of the remarks."
    assert "Second paragraph." in entry.content[0].value  # the full text stays
    item = client.get("/feeds/all.json").get_json()["items"][0]
    assert item["authors"] == [{"name": "Ambassador"}]
    rss = feedparser.parse(client.get("/feeds/all.rss").data)
    assert not rss.bozo and rss.entries[0].author == "Ambassador"  # dc:creator


def test_feed_summaries_use_the_summary_when_there_is_one(client, desk):
    desk.create(body="A long body.", summary="In short.")
    atom = feedparser.parse(client.get("/feeds/all.atom").data)
    assert atom.entries[0].summary == "In short."
    assert "A long body." in atom.entries[0].content[0].value


def test_a_teaser_is_the_first_paragraph_cut_at_a_word_boundary():
    body = "word " * 100 + "\n\nSecond."
    cut = teaser({"body": body, "summary": None}, limit=50)  # type: ignore[typeddict-item]
    assert cut.endswith("…") and len(cut) <= 50
    assert cut[:-1].split() == ["word"] * len(cut[:-1].split())
    assert "Second" not in cut


def test_an_import_line_may_carry_summary_and_speaker(services):
    from pressfeed.schemas import StatementCreate

    line = StatementCreate.model_validate_json(
        '{"title": "T", "body": "B", "kind": "news", "speaker": "Ambassador", '
        '"summary": "S", "published_at": "2017-05-01T10:00:00Z"}'
    )
    new = line.as_new_statement("en")
    [saved] = services.press_office.import_statements([new], actor="import")
    assert (saved.summary, saved.speaker) == ("S", "Ambassador")


def test_a_line_end_sent_as_crlf_counts_once_against_a_limit(client, publisher):
    """Browsers send each line end as CR LF: 580 characters and 20 line ends
    are 600, not 620."""
    summary = "\r\n".join(["x" * 29] * 20)  # 580 + 19 line ends
    # Sent below: 200,001 characters, 199,981 read (20 line ends). Long lines,
    # so that rendering stays far below its CPU budget on a busy machine
    # (2,001 short lines took 34 to 54 ms of the 50 here).
    body = "\r\n".join(["y" * 9_999] * 21)
    response = client.post(
        "/api/statements",
        json={"title": "Limits", "body": body[:199_999] + "\r\n", "kind": "news",
              "summary": summary},
        headers=publisher,
    )  # fmt: skip
    assert response.status_code == 201, response.get_json()
