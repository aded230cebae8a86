"""Log lines a request cannot forge: control characters in what is logged are
escaped (a newline as \\n, ESC as \\x1b), so a path, a header or a user name
from a request stays on the one line of its record.

`EscapeControlCharacters` is a filter for handlers: on a handler it sees every
record the handler writes, also those propagated from other loggers. The server,
the command line and the app factory put it on the handlers they write to.
"""

from __future__ import annotations

import logging
import re

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char in NAMED:
        return NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """The text on one line: every control character escaped (backslashes are
    left alone, so escaping twice changes nothing)."""
    return CONTROL.sub(_escaped, text)


def indented_lines(text: str) -> str:
    """A traceback keeps its lines, each indented and escaped, so none of them,
    an exception's message included, can pass for a record of its own."""
    return "\n".join("  " + escape_controls(line) for line in text.split("\n"))


class EscapeControlCharacters(logging.Filter):
    """Escapes the control characters of each record's message; a traceback or
    stack keeps its line breaks, with every line indented."""

    MARK = "_pressfeed_escaped"  # records are shared by handlers: once is enough

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, self.MARK, False):
            return True
        record.msg, record.args = escape_controls(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = indented_lines(record.exc_text)
        if record.stack_info:
            record.stack_info = indented_lines(record.stack_info)
        setattr(record, self.MARK, True)
        return True


def escape_in_handlers(logger: logging.Logger) -> None:
    """Puts the filter on every handler a record of logger reaches: its own and
    those of the ancestors it propagates to."""
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if not any(isinstance(f, EscapeControlCharacters) for f in handler.filters):
                handler.addFilter(EscapeControlCharacters())
        current = current.parent if current.propagate else None
