"""The Flask app factory. ``create_app()`` starts no background work, so it is the
WSGI entry point for gunicorn; ``pressfeed serve`` starts it beside the app."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from babel import Locale
from babel.core import UnknownLocaleError, get_global
from babel.dates import format_date
from flask import (
    Flask,
    Response,
    current_app,
    g,
    has_request_context,
    request,
    url_for,
)
from flask.json.provider import DefaultJSONProvider
from flask_babel import Babel  # type: ignore[import-untyped]
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wsgi import get_content_length

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from pressfeed.assembly import Pressfeed
from pressfeed.config import Settings
from pressfeed.logs import escape_in_handlers
from pressfeed.representation import teaser
from pressfeed.syndication import ATOM, FEED_FORMATS
from pressfeed.times import parse_time
from pressfeed.urls import KIND, FeedScope, absolute, feed_path, site_language
from pressfeed.web import (
    api,
    audit,
    crawlers,
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
from pressfeed.web.converters import register_canonical_numbers
from pressfeed.web.labels import ROLE_LABELS, STATUS_LABELS, kind_label
from pressfeed.web.languages import language_of_the_prefix, register_language_converter
from pressfeed.web.problems import ProblemError, register_problem_handlers
from pressfeed.web.replay import FeedReplay

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
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
    escape_in_handlers(app.logger)  # no request writes a line of its own
    app.extensions[PRESSFEED] = services
    app.extensions[RENDERED_CACHE] = RenderedCache(settings.render_cache_bytes)
    app.extensions[FAILURES] = FailureLimiter(settings.auth_failures_per_minute)
    app.wsgi_app = BoundedBody(app.wsgi_app, settings.max_request_bytes)  # type: ignore[method-assign]  # as Flask's docs do
    if settings.proxy_hops:
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]  # as Flask's docs do
    app.wsgi_app = FeedReplay(  # type: ignore[method-assign]  # as Flask's docs do
        app.wsgi_app, services.views_position, services.recent_views_position
    )
    app.before_request(refuse_large_bodies)  # before CSRF reads a form
    app.before_request(language_of_the_prefix)
    sessions.configure(app, settings)  # the secret key, the cookies' attributes
    CSRFProtect(app).exempt(api.bp)  # every form posts a token; the API has none
    register_problem_handlers(app)
    register_language_converter(app, settings)
    register_canonical_numbers(app)
    register_interface_languages(app, settings)
    register_templating(app, settings)
    app.after_request(security_headers)
    for blueprint in (
        api.bp, audit.bp, transparency.bp, public.bp, feeds.bp, site.bp, desk.bp,
        crawlers.bp,
    ):  # fmt: skip
        app.register_blueprint(blueprint)
    transparency.register_receipts(app)
    if settings.benchmark_endpoints:
        public.register_benchmark_endpoint(app)
    return app


class BoundedBody:
    """WSGI middleware: a body sent chunked (with no Content-Length) is read here
    up to the limit, and the app gets it with a Content-Length like any other.
    Past the limit the app gets an empty body announced one byte over it, so
    every route refuses it as it refuses a long Content-Length (413), instead of
    werkzeug reading the stream only up to the limit and passing on the cut."""

    def __init__(self, app: WSGIApplication, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        encoding = environ.get("HTTP_TRANSFER_ENCODING", "")
        if "chunked" in encoding.lower():  # a Content-Length beside it is void
            body = read_at_most(environ["wsgi.input"], self.limit + 1)
            if len(body) > self.limit:
                body = b""  # refused unread; the server drains or closes the rest
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(self.limit + 1 if not body else len(body))
            del environ["HTTP_TRANSFER_ENCODING"]  # the body is now de-chunked
        return self.app(environ, start_response)


def read_at_most(stream: IO[bytes], size: int) -> bytes:
    """Up to size bytes of the stream, fewer only when it ends."""
    parts, left = [], size
    while left > 0:
        part = stream.read(min(left, 64 * 1024))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def refuse_large_bodies() -> None:
    """413 for a body over the limit, on every route: also those that never read
    their body (werkzeug checks only when it is read)."""
    length = get_content_length(request.environ)
    limit = request.max_content_length
    if length is not None and limit is not None and length > limit:
        raise ProblemError(
            "payload-too-large",
            f"The request body is over the limit of {limit} bytes.",
        )


def register_templating(app: Flask, settings: Settings) -> None:
    base_url = settings.base_url

    def local_date(value: str | datetime | None) -> str:
        """A stored UTC time as a date in the configured zone, in the page's
        language's list format (PRESSFEED_DATE_FORMATS, else DD.MM.YYYY)."""
        if value is None:
            return ""
        local = as_datetime(value).astimezone(settings.timezone)
        return local.strftime(settings.date_format_of(interface_language()))

    def long_date(value: str | datetime) -> str:
        """A date as the front page's header shows it, in the page's language:
        '18 October 2018', '18 octobre 2018', or in Russian with its year mark."""
        local = as_datetime(value).astimezone(settings.timezone)
        language = interface_language()
        return format_date(
            local.date(),
            settings.long_date_format_of(language),
            locale=babel_locale(language),
        )

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
        """(media type, name, URL) of the feed of everything in the page's
        language, in every format."""
        scope = FeedScope(
            language=site_language(interface_language(), settings.other_languages)
        )
        return [
            (f.media_type, f.name, absolute(base_url, feed_path(scope, ext)))
            for ext, f in FEED_FORMATS.items()
        ]

    app.add_template_filter(local_date)
    app.add_template_filter(long_date)
    app.add_template_filter(datetime_attr)
    app.add_template_filter(local_time)
    app.add_template_filter(readable)
    app.add_template_filter(event_label)
    app.add_template_filter(teaser)

    def kind_feed_url(kind: str) -> str:
        language = site_language(interface_language(), settings.other_languages)
        scope = FeedScope(KIND, kind, language)
        return absolute(base_url, feed_path(scope, ATOM.extension))

    def in_language(endpoint: str, language: str, **values: Any) -> str:
        """The URL of a public page (front page, messages, feed) in a language:
        at the root for the default, under /<lang>/ for another."""
        prefix = site_language(language, settings.other_languages)
        if prefix:
            values["lang"] = prefix
        return url_for(endpoint, **values)

    def here(endpoint: str, **values: Any) -> str:
        """in_language for the page's own language."""
        return in_language(endpoint, interface_language(), **values)

    def language_switch(
        translations: list[dict[str, Any]],
    ) -> list[tuple[str, str, str, bool, bool]]:
        """(language, its name, URL, is this page's, is this page in that
        language) for every language of the office: a statement's translation
        where there is one, else the same list (front page, messages) in that
        language, else its front page."""
        current = interface_language()
        by_language = {
            t["language"]: url_for("site.statement", slug=t["slug"])
            for t in translations
        }
        endpoint = request.endpoint or ""
        same_page = endpoint in ("site.front_page", "site.messages")
        switch = []
        for language in settings.languages:
            equivalent = language in by_language or same_page
            if language in by_language:
                href = by_language[language]
            elif same_page:
                href = in_language(endpoint, language)
            else:
                href = in_language("site.front_page", language)
            name = language_name(language)
            switch.append((language, name, href, language == current, equivalent))
        return switch

    app.add_template_filter(kind_label)
    app.add_template_filter(lambda role: str(ROLE_LABELS.get(role, role)), "role_label")
    app.add_template_filter(
        lambda status: str(STATUS_LABELS.get(status, status)), "status_label"
    )
    app.add_template_filter(language_name, "language_label")
    app.add_template_filter(og_locale)
    app.add_template_global(language_switch)
    app.add_template_global(autodiscovery)
    app.add_template_global(kind_feed_url)
    app.add_template_global(in_language)
    app.add_template_global(here)
    app.add_template_global(interface_language)
    app.add_template_global(language_name)
    app.context_processor(lambda: {"settings": settings})


TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
INTERFACE_LANGUAGES = ("en", "fr", "ru")  # the catalogs in the repository


def register_interface_languages(app: Flask, settings: Settings) -> None:
    """Flask-Babel: every page's interface in its language (a statement page in
    the statement's, a list in the list's), from the catalogs in translations/."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    Babel(
        app,
        locale_selector=lambda: babel_locale(interface_language()),
        default_translation_directories=str(TRANSLATIONS),
    )
    app.extensions[DEFAULT_LANGUAGE] = settings.default_language


DEFAULT_LANGUAGE = "pressfeed.default_language"


def interface_language() -> str:
    """The language of the page being made: set by the view (a statement's, a
    list's), else the press office's default."""
    if has_request_context() and g.get("page_language"):
        return str(g.page_language)
    return str(current_app.extensions.get(DEFAULT_LANGUAGE, "en"))


def babel_locale(language: str) -> str:
    """A BCP 47 tag as Babel names the locale: pt-BR -> pt_BR; 'en' when Babel
    does not know the language."""
    try:
        return str(Locale.parse(language, sep="-"))
    except (ValueError, LookupError):
        return "en"


def language_name(language: str) -> str:
    """A language's name in that language, for the language switch: English,
    français, русский."""
    try:
        return Locale.parse(language, sep="-").get_display_name() or language
    except (ValueError, LookupError):
        return language


def og_locale(language: str) -> str:
    """Open Graph's language_TERRITORY for a language tag: fr_FR for fr (its
    likeliest territory), pt_BR for pt-BR; the tag itself when unknown."""
    try:
        locale = Locale.parse(language, sep="-")
    except (ValueError, LookupError, UnknownLocaleError):
        return language.replace("-", "_")
    if locale.territory:
        return f"{locale.language}_{locale.territory}"
    likely = get_global("likely_subtags").get(locale.language, "")
    territory = likely.split("_")[-1] if likely.count("_") else ""
    return f"{locale.language}_{territory}" if territory.isupper() else locale.language


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
