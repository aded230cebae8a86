"""Which language a public page or feed is in: the default at the root, another
under /<lang>/ (a URL converter that matches only the configured others)."""

from __future__ import annotations

import re

from flask import Flask, g, request
from werkzeug.routing import BaseConverter

from pressfeed.config import Settings
from pressfeed.web.context import services


def register_language_converter(app: Flask, settings: Settings) -> None:
    """<lang:lang> in a route matches exactly the languages other than the
    default (nothing when the office publishes in one language)."""
    tags = sorted(settings.other_languages, key=len, reverse=True)
    pattern = "|".join(re.escape(tag) for tag in tags) or "(?!)"
    app.url_map.converters["lang"] = type(
        "OtherLanguage", (BaseConverter,), {"regex": f"(?:{pattern})"}
    )


def language_of_the_prefix() -> None:
    """Before a view: the page is in its prefix's language, so that a problem
    raised before the view chose (a bad filter under /ru/) speaks it too."""
    prefix = (request.view_args or {}).get("lang")
    if prefix:
        g.page_language = prefix


def list_language(prefix: str) -> str | None:
    """The language a public list under this prefix holds ('' is the root); None
    (every language, as before languages) when the office publishes in one."""
    settings = services().settings
    if not settings.other_languages:
        return None
    return prefix or settings.default_language


def page_language(prefix: str) -> str:
    """The language of a page under this prefix, also set for its interface."""
    language = prefix or services().settings.default_language
    g.page_language = language
    return language
