"""For crawlers: /robots.txt and /sitemap.xml (a sitemap index past the
protocol's 50,000 URLs a file). They list statements published now, and
nothing private: no draft, no embargoed statement, no withdrawn one."""

from __future__ import annotations

import math
from collections.abc import Callable
from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort

from pressfeed.projections.catalogue import count_published, published_pages
from pressfeed.times import iso
from pressfeed.urls import absolute, statement_path
from pressfeed.web.caching import Rendered, conditional_response, rendered
from pressfeed.web.context import rendered_cache, services, views_position

bp = Blueprint("crawlers", __name__)

SITEMAP_URLS = 50_000  # the sitemap protocol's limit per file
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
XML = "application/xml; charset=utf-8"
CACHE = "public, max-age=300"


@bp.get("/robots.txt")
def robots() -> Response:
    base_url = services().settings.base_url
    text = (
        "User-agent: *\n"
        "Disallow: /api/\n"
        "Disallow: /desk/\n"
        "Disallow: /audit/\n"
        f"Sitemap: {absolute(base_url, '/sitemap.xml')}\n"
    )
    return Response(text, content_type="text/plain; charset=utf-8")


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    """Every published statement, or an index of sitemaps when they are more
    than one file holds."""

    def render() -> Rendered:
        files = max(1, math.ceil(count_published(services().views) / SITEMAP_URLS))
        body = url_set(1) if files == 1 else sitemap_index(files)
        return rendered(body, services().views.public_stamp())

    return serve("sitemap.xml", render)


@bp.get("/sitemaps/<int:number>.xml")
def sitemap_part(number: int) -> Response:
    """The number-th 50,000 published statements, first published first."""
    files = math.ceil(count_published(services().views) / SITEMAP_URLS)
    if not 1 <= number <= files:
        abort(404)
    return serve(
        f"sitemaps/{number}.xml",
        lambda: rendered(url_set(number), services().views.public_stamp()),
    )


def url_set(number: int) -> bytes:
    base_url = services().settings.base_url
    pages = published_pages(
        services().views, limit=SITEMAP_URLS, offset=(number - 1) * SITEMAP_URLS
    )
    lines = [
        f"<url><loc>{escape(absolute(base_url, statement_path(slug)))}</loc>"
        f"<lastmod>{iso(modified)}</lastmod></url>"
        for slug, modified in pages
    ]
    return _document("urlset", lines)


def sitemap_index(files: int) -> bytes:
    base_url = services().settings.base_url
    lines = [
        f"<sitemap><loc>{escape(absolute(base_url, f'/sitemaps/{n}.xml'))}</loc>"
        "</sitemap>"
        for n in range(1, files + 1)
    ]
    return _document("sitemapindex", lines)


def _document(root: str, lines: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{root} xmlns="{SITEMAP_NS}">\n' + "\n".join(lines) + f"\n</{root}>\n"
    ).encode()


def serve(key: str, render: Callable[[], Rendered]) -> Response:
    item = rendered_cache().get(key, views_position(), render)
    return conditional_response(item, XML, CACHE)
