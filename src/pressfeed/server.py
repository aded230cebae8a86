"""``pressfeed serve``: gunicorn with one process that also runs the projection worker.

One process, several threads: the embedded default on SQLite. For several web
processes, run gunicorn on ``pressfeed.web:create_app()`` and ``pressfeed worker``.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from pressfeed.config import Settings
from pressfeed.projections.runner import ProjectionWorker, make_worker
from pressfeed.scheduler import EmbargoScheduler
from pressfeed.web import create_app, open_services


class EmbeddedServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, host: str, port: int, threads: int) -> None:
        self.settings = settings
        self.options = {
            "bind": f"{host}:{port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            "accesslog": "-",
            "control_socket_disable": True,  # gunicorn 25+: one socket per user clashes
            "post_worker_init": self._start_background_work,
            "worker_exit": self._stop_background_work,
        }
        self.worker: ProjectionWorker | None = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # older gunicorns lack some settings
                self.cfg.set(key, value)

    def load(self) -> Any:
        self.services = open_services(self.settings)
        return create_app(services=self.services)

    def _start_background_work(self, _worker: Any) -> None:
        self.worker = make_worker(
            self.settings, self.services.press_office, self.services.views
        )
        self.embargoes = EmbargoScheduler(
            self.services.press_office, self.services.views
        )
        self.worker.on_change.append(self.embargoes.sync)
        self.embargoes.start()
        self.services.attach_worker(self.worker)
        self.worker.start()

    def _stop_background_work(self, _server: Any, _worker: Any) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.embargoes.stop()


def serve(settings: Settings, host: str, port: int, threads: int = 8) -> None:
    EmbeddedServer(settings, host, port, threads).run()
