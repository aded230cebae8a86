"""The Flask app factory. ``create_app()`` starts no background work, so it is the
WSGI entry point for gunicorn; ``pressfeed serve`` adds the workers itself."""

from __future__ import annotations

from flask import Flask

from pressfeed.application import PressOffice
from pressfeed.config import Settings
from pressfeed.projections import open_views
from pressfeed.storage import open_tables
from pressfeed.tokens import TokenRegistry
from pressfeed.web import api, public
from pressfeed.web.problems import register_problem_handlers
from pressfeed.web.services import Services


def open_services(settings: Settings) -> Services:
    """The application, views and tokens on the configured store."""
    return Services(
        settings=settings,
        press_office=PressOffice(
            env=settings.eventsourcing_env(), kinds=settings.kinds
        ),
        views=open_views(settings),
        tokens=TokenRegistry(open_tables(settings)),
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
    register_problem_handlers(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(public.bp)
    return app
