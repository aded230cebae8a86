"""Every error as RFC 9457 problem details: type, title, status, detail."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, json, render_template, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE = "application/problem+json"


class ProblemError(Exception):
    """Raised anywhere in a request to answer with a problem."""

    def __init__(
        self,
        status: int,
        name: str,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.name, self.title, self.detail = status, name, title, detail
        self.errors = errors
        self.headers = headers or {}


def wants_html() -> bool:
    """A browser asking for a page gets an HTML error page; everyone else a problem."""
    if request.path.startswith(("/api/", "/feeds/", "/audit/")):
        return False
    best = request.accept_mimetypes.best_match(
        [PROBLEM_TYPE, "application/json", "text/html"]
    )
    return best == "text/html"


def problem_response(error: ProblemError) -> Response:
    base_url = current_app.config["PRESSFEED_BASE_URL"]
    if wants_html():
        page = render_template("error.html", problem=error)
        response = Response(page, status=error.status, mimetype="text/html")
        response.headers.update(error.headers)
        return response
    body: dict[str, Any] = {
        "type": f"{base_url}/problems/{error.name}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    if error.errors is not None:
        body["errors"] = error.errors
    response = Response(json.dumps(body), status=error.status, mimetype=PROBLEM_TYPE)
    response.headers.update(error.headers)
    return response


def validation_problem(error: ValidationError) -> ProblemError:
    """422 listing each invalid field, without echoing the (maybe huge) input."""
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
        for e in error.errors(include_url=False, include_input=False)
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return ProblemError(422, "invalid-fields", "Invalid fields", summary, errors=errors)


def http_problem(error: HTTPException) -> ProblemError:
    name = (error.name or "error").lower().replace(" ", "-")
    return ProblemError(
        error.code or 500,
        name,
        error.name or "Error",
        error.description or "",
        headers={k: v for k, v in error.get_headers() if k.lower() == "allow"},
    )


def register_problem_handlers(app: Flask) -> None:
    app.register_error_handler(ProblemError, problem_response)
    app.register_error_handler(
        ValidationError, lambda e: problem_response(validation_problem(e))
    )
    app.register_error_handler(
        HTTPException, lambda e: problem_response(http_problem(e))
    )

    @app.errorhandler(Exception)
    def internal_error(error: Exception) -> Response:
        current_app.logger.exception("Unhandled error")
        return problem_response(
            ProblemError(
                500,
                "internal-error",
                "Internal error",
                "The server failed; see its log.",
            )
        )
