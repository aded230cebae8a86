"""Diffs of a statement's text read as people expect them."""

from __future__ import annotations

from pressfeed.representation import text_diff
from pressfeed.schemas import StatementCreate


def document(body: str) -> dict:
    return {"title": "Hours", "body": body, "version": 2}


def test_text_added_after_the_last_line_is_only_added():
    diff = text_diff(
        document("Open on Mondays."),
        "Hours",
        "Open on Mondays.\n\nAnd Tuesdays.",
        "new",
    )
    assert "-Open on Mondays." not in diff
    assert "+And Tuesdays." in diff


def test_browser_line_ends_are_stored_as_newlines():
    fields = StatementCreate.model_validate(
        {"title": "Hours", "body": "One\r\nTwo\rThree", "kind": "news"}
    )
    assert fields.body == "One\nTwo\nThree"


def test_a_title_is_one_line():
    fields = StatementCreate.model_validate(
        {"title": "Visa\nhours\r\n  in August", "body": "Text", "kind": "news"}
    )
    assert fields.title == "Visa hours in August"


def test_a_title_of_several_lines_stored_before_still_diffs_line_by_line():
    diff = text_diff({"title": "a\nb", "body": "B", "version": 2}, "a b", "B", "new")
    lines = diff.splitlines()[2:]  # past the file names
    assert lines[0].startswith("@@ ")
    assert all(line[:1] in ("+", "-", " ") for line in lines[1:]), lines
