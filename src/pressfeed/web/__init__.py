"""The Flask app factory. ``create_app()`` starts no background work, so it is the
WSGI entry point for gunicorn; ``pressfeed serve`` starts it beside the app."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, cast

from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from pressfeed.assembly import Pressfeed
from pressfeed.config import Settings
from pressfeed.syndication import ATOM, FEED_FORMATS
from pressfeed.times import parse_time
from pressfeed.urls import ALL_STATEMENTS, KIND, FeedScope, absolute, feed_path
from pressfeed.web import (
    api,
    audit,
    desk,
    feeds,
    public,
    sessions,
    site,
    transparency,
)
from pressfeed.web.auth import FAILURES, FailureLimiter
from pressfeed.web.caching import RenderedCache
from pressfeed.web.context import PRESSFEED, RENDERED_CACHE
from pressfeed.web.problems import register_problem_handlers

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def create_app(
    settings: Settings | None = None, services: Pressfeed | None = None
) -> Flask:
    """The web app on an assembled pressfeed (or one assembled from settings)."""
    services = services or Pressfeed(settings or Settings.from_env())
    settings = services.settings
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        PRESSFEED_BASE_URL=settings.base_url,
    )
    json_provider = cast(DefaultJSONProvider, app.json)
    json_provider.sort_keys = False  # answers keep their fields in reading order
    app.extensions[PRESSFEED] = services
    app.extensions[RENDERED_CACHE] = RenderedCache(settings.render_cache_bytes)
    app.extensions[FAILURES] = FailureLimiter(settings.auth_failures_per_minute)
    if settings.proxy_hops:
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]  # as Flask's docs do
    sessions.configure(app, settings)  # the secret key, the cookies' attributes
    CSRFProtect(app).exempt(api.bp)  # every form posts a token; the API has none
    register_problem_handlers(app)
    register_templating(app, settings)
    app.after_request(security_headers)
    for blueprint in (
        api.bp, audit.bp, transparency.bp, public.bp, feeds.bp, site.bp, desk.bp,
    ):  # fmt: skip
        app.register_blueprint(blueprint)
    if settings.benchmark_endpoints:
        public.register_benchmark_endpoint(app)
    return app


def register_templating(app: Flask, settings: Settings) -> None:
    base_url = settings.base_url

    def local_date(value: str | datetime | None) -> str:
        """A stored UTC time as a date in the configured zone and format."""
        if value is None:
            return ""
        local = as_datetime(value).astimezone(settings.timezone)
        return local.strftime(settings.date_format)

    def local_time(value: str | datetime | None) -> str:
        """A stored UTC time as a date and time in the configured zone, with the
        zone's abbreviation."""
        if value is None:
            return ""
        local = as_datetime(value).astimezone(settings.timezone)
        return local.strftime(f"{settings.date_format} %H:%M %Z")

    def readable(value: object) -> str:
        """A field's value as people read it: no None, no ['visas'], times local."""
        if value is None or value == []:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        if isinstance(value, str) and ISO_TIME.fullmatch(value):
            return local_time(value)
        return str(value)

    def datetime_attr(value: str | datetime) -> str:
        """A time for a <time datetime> attribute: whole seconds (HTML allows at
        most three fractional digits), its own offset, UTC as Z."""
        text = as_datetime(value).replace(microsecond=0).isoformat()
        return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text

    def autodiscovery() -> list[tuple[str, str, str]]:
        """(media type, name, URL) of the feed of everything, in every format."""
        return [
            (f.media_type, f.name, absolute(base_url, feed_path(ALL_STATEMENTS, ext)))
            for ext, f in FEED_FORMATS.items()
        ]

    app.add_template_filter(local_date)
    app.add_template_filter(datetime_attr)
    app.add_template_filter(local_time)
    app.add_template_filter(readable)
    app.add_template_filter(event_label)

    def kind_feed_url(kind: str) -> str:
        return absolute(base_url, feed_path(FeedScope(KIND, kind), ATOM.extension))

    app.add_template_global(autodiscovery)
    app.add_template_global(kind_feed_url)
    app.context_processor(lambda: {"settings": settings})


def as_datetime(value: str | datetime) -> datetime:
    """A stored ISO 8601 time (Z for UTC) or a datetime, as a datetime."""
    return parse_time(value) if isinstance(value, str) else value


ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def event_label(name: str) -> str:
    """An event's name as a phrase: SubmittedForReview -> Submitted for review."""
    words = re.findall(r"[A-Z][a-z]*", name)
    return " ".join([words[0], *(w.lower() for w in words[1:])]) if words else name


def security_headers(response: Response) -> Response:
    headers: dict[str, Any] = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    if response.mimetype == "text/html":
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["X-Frame-Options"] = "DENY"
    for name, value in headers.items():
        response.headers.setdefault(name, value)
    return response
