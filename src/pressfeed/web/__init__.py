"""The Flask app factory. ``create_app()`` starts no background work, so it is the
WSGI entry point for gunicorn; ``pressfeed serve`` adds the workers itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

from pressfeed.application import PressOffice
from pressfeed.config import Settings
from pressfeed.projections import open_views
from pressfeed.storage import Tables, schema_lock
from pressfeed.tokens import TokenRegistry
from pressfeed.web import api, audit, feeds, public, site
from pressfeed.web.auth import FailureLimiter
from pressfeed.web.problems import register_problem_handlers
from pressfeed.web.services import Services

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def open_services(settings: Settings) -> Services:
    """The application, views and tokens on the configured store."""
    with schema_lock(settings):
        views = open_views(settings)
        return Services(
            settings=settings,
            press_office=PressOffice(
                env=settings.eventsourcing_env(), kinds=settings.kinds
            ),
            views=views,
            tokens=TokenRegistry(Tables(views.datastore)),  # type: ignore[attr-defined]
        )


def create_app(
    settings: Settings | None = None, services: Services | None = None
) -> Flask:
    settings = settings or (services.settings if services else Settings.from_env())
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        PRESSFEED_BASE_URL=settings.base_url,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["pressfeed"] = services or open_services(settings)
    app.extensions["pressfeed.auth_failures"] = FailureLimiter(
        settings.auth_failures_per_minute
    )
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )
    register_problem_handlers(app)
    register_templating(app, settings)
    app.after_request(security_headers)
    for blueprint in (api.bp, audit.bp, public.bp, feeds.bp, site.bp):
        app.register_blueprint(blueprint)
    if settings.benchmark_endpoints:
        public.register_benchmark_endpoint(app)
    return app


def register_templating(app: Flask, settings: Settings) -> None:
    def local_date(value: str | datetime | None) -> str:
        """A stored UTC time as a date in the configured zone and format."""
        if value is None:
            return ""
        local = as_datetime(value).astimezone(settings.timezone)
        return local.strftime(settings.date_format)

    def datetime_attr(value: str | datetime) -> str:
        """A time for a <time datetime> attribute: whole seconds (HTML allows at
        most three fractional digits), its own offset, UTC as Z."""
        text = as_datetime(value).replace(microsecond=0).isoformat()
        return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text

    app.add_template_filter(local_date)
    app.add_template_filter(datetime_attr)
    app.context_processor(lambda: {"settings": settings})


def as_datetime(value: str | datetime) -> datetime:
    """A stored ISO 8601 time (Z for UTC) or a datetime, as a datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


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
