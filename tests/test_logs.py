"""What a request sends cannot write a log line of its own."""

from __future__ import annotations

import io
import logging

from pressfeed.logs import EscapeControlCharacters, escape_controls


def test_control_characters_are_escaped_and_escaping_twice_changes_nothing():
    text = "a\nb\rc\td\x1b[2J\x00\x7f\x85\u2028é\\n"
    once = escape_controls(text)
    assert once == "a\\nb\\rc\\td\\x1b[2J\\x00\\x7f\\x85\\u2028é\\n"
    assert escape_controls(once) == once


def test_a_traceback_keeps_its_lines_each_indented():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(EscapeControlCharacters())
    log = logging.getLogger("pressfeed.test_logs")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise ValueError("abc\nFAKE LINE")
        except ValueError:
            log.exception("Failed for %s", "/x\nFAKE PATH")
    finally:
        log.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "ERROR Failed for /x\\nFAKE PATH"
    assert lines[1] == "  Traceback (most recent call last):"
    assert lines[-2:] == ["  ValueError: abc", "  FAKE LINE"]
    assert all(line.startswith("  ") for line in lines[1:])
