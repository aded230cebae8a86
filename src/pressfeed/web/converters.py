"""The number converter every route's <int:…> uses: one address per number."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

# At most 18 digits: every such number fits the stores' 64-bit integer columns.
CANONICAL_NUMBER = r"(?:0|[1-9][0-9]{0,17})"


class CanonicalInteger(IntegerConverter):
    """Matches a number written without leading zeros, so that
    /feeds/archive/01.atom is not a second address (and a second cached copy)
    of /feeds/archive/1.atom; longer numbers than any store holds are a 404."""

    regex = CANONICAL_NUMBER


def register_canonical_numbers(app: Flask) -> None:
    app.url_map.converters["int"] = CanonicalInteger
