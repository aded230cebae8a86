"""What a request handler reaches: the assembled pressfeed and this process's
cache of rendered bytes."""

from __future__ import annotations

from typing import cast

from flask import current_app

from pressfeed.assembly import Pressfeed
from pressfeed.web.caching import RenderedCache

PRESSFEED = "pressfeed"
RENDERED_CACHE = "pressfeed.rendered"


def services() -> Pressfeed:
    return cast(Pressfeed, current_app.extensions[PRESSFEED])


def rendered_cache() -> RenderedCache:
    return cast(RenderedCache, current_app.extensions[RENDERED_CACHE])
