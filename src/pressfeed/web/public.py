"""Public endpoints that need no token: health and the API description."""

from __future__ import annotations

from functools import cache

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    json,
    render_template,
    request,
)

from pressfeed.storage import store_unavailable
from pressfeed.web.context import services
from pressfeed.web.openapi import openapi_document
from pressfeed.web.problems import (
    PROBLEM_TYPES,
    RETRY_AFTER_SECONDS,
    ProblemError,
    store_unavailable_problem,
)

bp = Blueprint("public", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: {status, store, projection_lag}; 503 when the store cannot be
    read. With ?ready, readiness: can the store take a write, and do the views
    reach the log's head within a second?"""
    s = services()
    store = "postgresql" if s.settings.uses_postgres else "sqlite"
    if "ready" in request.args:
        return readiness(store)
    try:
        lag = s.views_lag()
    except Exception:
        unavailable = {"status": "unavailable", "store": store, "projection_lag": None}
        return Response(
            json.dumps(unavailable), status=503, mimetype="application/json"
        )
    worker = s.worker
    status = "degraded" if worker is not None and worker.error else "ok"
    body = {"status": status, "store": store, "projection_lag": lag}
    return Response(json.dumps(body), mimetype="application/json")


def readiness(store: str) -> Response:
    """200 {status: ready, store, projection_lag, writable}, or a 503 problem
    with Retry-After: store-unavailable or views-behind."""
    s = services()
    try:
        s.check_writable()
        behind = s.views_catch_up(timeout=1.0)
    except Exception as error:
        if not store_unavailable(error):
            raise
        current_app.logger.warning("Not ready, the store is unavailable: %s", error)
        raise store_unavailable_problem() from error
    if behind:
        raise ProblemError(
            "views-behind",
            f"The views are {behind} events behind the log's head.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    body = {"status": "ready", "store": store, "projection_lag": 0, "writable": True}
    return Response(json.dumps(body), mimetype="application/json")


@bp.get("/problems/<name>")
def problem_type(name: str) -> Response:
    """What a problem `type` URI means."""
    if name not in PROBLEM_TYPES:
        abort(404)
    page = render_template("problem_type.html", problem=PROBLEM_TYPES[name])
    return Response(page, mimetype="text/html")


@bp.get("/api/openapi.json")
def openapi() -> Response:
    return Response(
        json.dumps(openapi_document(services().settings)), mimetype="application/json"
    )


def register_benchmark_endpoint(app: Flask) -> None:
    """GET /_bench/constant/<n>: n constant bytes, the baseline the feed benchmarks
    compare with (only when PRESSFEED_BENCHMARK=1)."""

    @app.get("/_bench/constant/<int:size>")
    def constant(size: int) -> Response:
        return Response(
            constant_bytes(min(size, 10_000_000)), mimetype="application/atom+xml"
        )


@cache
def constant_bytes(size: int) -> bytes:
    return b"x" * size
