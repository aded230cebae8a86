"""What a request handler reaches: the assembled pressfeed and this process's
cache of rendered bytes."""

from __future__ import annotations

from typing import cast

from flask import current_app, request

from pressfeed.assembly import Pressfeed
from pressfeed.web.caching import VIEWS_POSITION, RenderedCache

PRESSFEED = "pressfeed"
RENDERED_CACHE = "pressfeed.rendered"


def services() -> Pressfeed:
    return cast(Pressfeed, current_app.extensions[PRESSFEED])


def rendered_cache() -> RenderedCache:
    return cast(RenderedCache, current_app.extensions[RENDERED_CACHE])


def views_position() -> int:
    """The views' position this request renders at, read once a request: the
    one the feed replay read, when it did, since it keeps the answer under it
    (a second read could be an older position, and keep old bytes as new)."""
    environ = request.environ
    if VIEWS_POSITION not in environ:
        environ[VIEWS_POSITION] = services().views_position()
    return int(environ[VIEWS_POSITION])
