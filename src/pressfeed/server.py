"""``pressfeed serve``: gunicorn with one process that also runs the projection
worker and the embargo scheduler.

One process, several threads: the embedded default on SQLite. For several web
processes, run gunicorn on ``pressfeed.web:create_app()`` and ``pressfeed worker``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from pressfeed.assembly import Pressfeed
from pressfeed.config import Settings
from pressfeed.logs import escape_in_handlers
from pressfeed.web import create_app


class EscapingLogger(Logger):
    """gunicorn's logger, with control characters escaped in its error and access
    logs (a request line, a header or a Basic user name cannot forge a line).
    For gunicorn run directly: --logger-class pressfeed.server.EscapingLogger."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        escape_in_handlers(self.error_log)
        escape_in_handlers(self.access_log)


class EmbeddedServer(BaseApplication):
    def __init__(self, settings: Settings, host: str, port: int, threads: int) -> None:
        self.settings = settings
        self.options = {
            "bind": f"{host}:{port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            "accesslog": "-",
            "logger_class": EscapingLogger,
            "control_socket_disable": True,  # gunicorn 25+: one socket per user clashes
            "post_worker_init": self._start_background_work,
            "worker_exit": self._stop_background_work,
        }
        self.pressfeed: Pressfeed | None = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # older gunicorns lack some settings
                self.cfg.set(key, value)

    def load(self) -> Flask:
        self.pressfeed = Pressfeed(self.settings)
        return create_app(services=self.pressfeed)

    def _start_background_work(self, _worker: Any) -> None:
        if self.pressfeed is not None:
            self.pressfeed.start_background()

    def _stop_background_work(self, _server: Any, _worker: Any) -> None:
        if self.pressfeed is not None:
            self.pressfeed.stop_background()


def serve(settings: Settings, host: str, port: int, threads: int = 8) -> None:
    EmbeddedServer(settings, host, port, threads).run()
