"""Every error as RFC 9457 problem details (type, title, status, detail), from
one registry: each problem type names its status, title and meaning once, and
the domain errors it answers. The handlers, the /problems/<name> pages and the
OpenAPI document are all made from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, json, render_template, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from pressfeed.aggregates import (
    AlreadyPublished,
    ChangeNoteRequired,
    EmbargoNotInFuture,
    NotADraft,
    NotATranslation,
    NothingToAmend,
    NotInReview,
    NotPublished,
    NotScheduled,
    PublicationInFuture,
    SecondPairOfEyesRequired,
    StatementRetracted,
    TranslationTaken,
)
from pressfeed.application import (
    IdempotencyKeyReused,
    SlugTaken,
    StaleVersion,
    StatementNotFound,
    UnknownKind,
    UnknownLanguage,
    UnknownOriginal,
)
from pressfeed.storage import store_unavailable
from pressfeed.urls import absolute, problem_type_path

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 5  # for 503s: the store or the views may be back by then


def N_(text: str) -> str:
    """Marks a problem's title and meaning for the catalogs (pybabel -k N_):
    the answers stay in English, a page a reader sees (error.html) translates
    them."""
    return text


# The problems a reader of the public pages meets: their error page says the
# title and meaning in the page's language (the detail is for programs).
READERS_PROBLEMS = frozenset(
    {"bad-page", "bad-search", "bad-filter", "not-found", "method-not-allowed",
     "internal-error"}
)  # fmt: skip


@dataclass(frozen=True)
class ProblemType:
    """One kind of error: its `type` URI ends in name."""

    name: str
    status: int
    title: str
    meaning: str  # what it means and what to do, shown at /problems/<name>
    raised_by: tuple[type[Exception], ...] = ()  # domain errors answered with it


PROBLEM_TYPES: dict[str, ProblemType] = {
    problem.name: problem
    for problem in (
        # The request itself
        ProblemType(
            "bad-request", 400, "Bad request",
            "The request could not be understood as HTTP.",
        ),
        ProblemType(
            "malformed-json", 400, "Malformed JSON",
            "The body is not valid UTF-8 JSON.",
        ),
        ProblemType(
            "bad-if-match", 400, "Bad If-Match",
            'If-Match is an ETag like "3" (the version you read), or *.',
        ),
        ProblemType(
            "bad-idempotency-key", 400, "Bad Idempotency-Key",
            "An Idempotency-Key is 1 to 255 visible ASCII characters.",
        ),
        ProblemType(
            "bad-cursor", 400, "Bad cursor",
            "Use the next_cursor of a previous page, unchanged.",
        ),
        ProblemType(
            "bad-page", 400, N_("Bad page number"), N_("page is a whole number from 1.")
        ),
        ProblemType(
            "bad-search", 400, N_("Bad search"),
            N_(
                "A search feed needs q, the words to search for (plain words, "
                '"phrases" and -excluded words).'
            ),
        ),
        ProblemType(
            "bad-filter", 400, N_("Bad filter"),
            N_(
                "/messages filters by kind (one the press office publishes), year "
                "(1900 to 8999), month (1 to 12, with a year) and speaker."
            ),
        ),
        ProblemType(
            "bad-accept-datetime", 400, "Bad Accept-Datetime",
            "Accept-Datetime is an HTTP date, e.g. Tue, 20 Mar 2001 20:35:00 GMT.",
        ),
        ProblemType(
            "bad-tree-query", 400, "Bad tree query",
            "The log's tree takes whole numbers: /audit/leaves?start=&limit= (limit "
            "1 to 1,000), /audit/proof/inclusion?index=&size= (index below size), "
            "/audit/proof/consistency?from=&to= (1 <= from <= to).",
        ),
        ProblemType(
            "beyond-tree-size", 400, "Beyond the tree's size",
            "The log's tree is smaller than the size asked for; /audit/checkpoint "
            "names the latest signed size.",
        ),
        ProblemType(
            "payload-too-large", 413, "Payload too large",
            "The request body is over the limit (1 MiB by default).",
        ),
        ProblemType(
            "unsupported-media-type", 415, "Unsupported media type",
            "Send the body as application/json.",
        ),
        ProblemType(
            "invalid-fields", 422, "Invalid fields",
            "One or more fields are missing, of the wrong type or out of bounds; "
            "`errors` lists each.",
        ),
        ProblemType(
            "precondition-required", 428, "If-Match required",
            'This command needs If-Match: "<version>", the ETag of the version you '
            "read.",
        ),
        # Who is asking
        ProblemType(
            "unauthorized", 401, "Unauthorized",
            "Send a valid token: Authorization: Bearer <token>.",
        ),
        ProblemType(
            "forbidden", 403, "Forbidden",
            "The token's role may not do this (publisher: commands; auditor: /audit).",
        ),
        ProblemType(
            "too-many-failed-authentications", 429, "Too many failed authentications",
            "Too many failed authentications from your address; wait for Retry-After "
            "seconds.",
        ),
        # What is asked for
        ProblemType(
            "not-found", 404, N_("Not found"), N_("No such statement, version or page."),
            (StatementNotFound,),
        ),
        ProblemType(
            "method-not-allowed", 405, N_("Method not allowed"),
            N_("That method is not allowed on this path; see the Allow header."),
        ),
        # The press office's rules
        ProblemType(
            "stale-version", 412, "The statement has changed",
            "The statement changed since the version you read; read it again (the "
            "answer's ETag names the current version) and retry.",
            (StaleVersion,),
        ),
        ProblemType(
            "retracted", 409, "The statement is retracted",
            "The statement is retracted: it takes no further command.",
            (StatementRetracted,),
        ),
        ProblemType(
            "already-published", 409, "The statement is already published",
            "The statement is already published.",
            (AlreadyPublished,),
        ),
        ProblemType(
            "not-published", 409, "The statement is not published",
            "Only a published statement can be featured on the front page.",
            (NotPublished,),
        ),
        ProblemType(
            "not-scheduled", 409, "The statement is not scheduled",
            "The statement has no embargo to cancel.",
            (NotScheduled,),
        ),
        ProblemType(
            "not-a-draft", 409, "The statement is not a draft",
            "Only a draft is submitted for review.",
            (NotADraft,),
        ),
        ProblemType(
            "not-in-review", 409, "The statement is not in review",
            "Only a statement submitted for review can be approved.",
            (NotInReview,),
        ),
        ProblemType(
            "second-pair-of-eyes-required", 409, "Another publisher must do this",
            "This press office requires a second pair of eyes: whoever last changed "
            "the text may not also approve, publish, schedule or withdraw it.",
            (SecondPairOfEyesRequired,),
        ),
        ProblemType(
            "slug-taken", 409, "The slug is taken",
            "Another statement already has that slug.",
            (SlugTaken,),
        ),
        ProblemType(
            "translation-taken", 409, "The translations hold that language already",
            "A group of translations holds one statement per language, and the "
            "statement translated already has a translation in this language.",
            (TranslationTaken,),
        ),
        ProblemType(
            "not-a-translation", 409, "The statement has no translations",
            "Only a statement linked to its translations can be unlinked.",
            (NotATranslation,),
        ),
        ProblemType(
            "change-note-required", 422, "A change note is required",
            "Every amendment of a published statement needs a change note.",
            (ChangeNoteRequired,),
        ),
        ProblemType(
            "embargo-not-in-future", 422, "The embargo time has passed",
            "An embargo time (publish_at) must lie in the future.",
            (EmbargoNotInFuture,),
        ),
        ProblemType(
            "publication-in-future", 422, "published_at is in the future",
            "A back-dated published_at must lie in the past; use publish_at to "
            "schedule.",
            (PublicationInFuture,),
        ),
        ProblemType(
            "nothing-to-amend", 422, "The amendment changes nothing",
            "The amendment changes nothing.",
            (NothingToAmend,),
        ),
        ProblemType(
            "unknown-kind", 422, "Unknown kind",
            "The kind is not one this press office publishes (see the OpenAPI "
            "description).",
            (UnknownKind,),
        ),
        ProblemType(
            "unknown-language", 422, "Unknown language",
            "The language is not one this press office publishes in "
            "(PRESSFEED_LANGUAGES).",
            (UnknownLanguage,),
        ),
        ProblemType(
            "unknown-original", 422, "No statement to translate",
            "translation_of names no statement (give its id or slug).",
            (UnknownOriginal,),
        ),
        ProblemType(
            "idempotency-key-reused", 422, "Idempotency-Key reused",
            "That Idempotency-Key was already used by you for a different request.",
            (IdempotencyKeyReused,),
        ),
        # The server
        ProblemType(
            "no-signing-key", 503, "The log has no signing key yet",
            "The press office has not created the key that signs its checkpoints "
            "(pressfeed keys create); until it does, no checkpoint is served.",
        ),
        ProblemType(
            "store-unavailable", 503, "The store is unavailable",
            "The press office's database refuses writes or cannot be reached just "
            "now (it is read-only, full, locked or down). Retry after Retry-After "
            "seconds; with an Idempotency-Key a retry never applies a command "
            "twice. Its operators see the cause in the server's log and at "
            "/healthz?ready.",
        ),
        ProblemType(
            "views-behind", 503, "The views are behind the log",
            "The views that pages, feeds and lists are read from have not caught up "
            "with the event log (no worker running, or one failing): this process "
            "is alive but not ready. Retry after Retry-After seconds.",
        ),
        ProblemType(
            "internal-error", 500, N_("Internal error"),
            N_(
                "The server failed; the press office's operators can find the "
                "cause in its log."
            ),
        ),
    )
}  # fmt: skip

# werkzeug's own errors (routing, size limit) by status; any other is bad-request.
HTTP_STATUS_PROBLEMS = {
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
}


class ProblemError(Exception):
    """Raised anywhere in a request to answer with a problem of the registry."""

    def __init__(
        self,
        name: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.problem = PROBLEM_TYPES[name]
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return self.problem.status


def wants_html() -> bool:
    """A browser asking for a page gets an HTML error page; everyone else a problem."""
    if request.path.startswith(("/api/", "/feeds/")):
        return False
    best = request.accept_mimetypes.best_match(
        [PROBLEM_JSON, "application/json", "text/html"]
    )
    return best == "text/html"


def problem_response(error: ProblemError) -> Response:
    if wants_html():
        page = render_template(
            "error.html",
            problem=error,
            for_readers=error.problem.name in READERS_PROBLEMS,
        )
        response = Response(page, status=error.status, mimetype="text/html")
        response.headers.update(error.headers)
        return response
    base_url = current_app.config["PRESSFEED_BASE_URL"]
    body: dict[str, Any] = {
        "type": absolute(base_url, problem_type_path(error.problem.name)),
        "title": error.problem.title,
        "status": error.status,
        "detail": error.detail,
    }
    if error.errors is not None:
        body["errors"] = error.errors
    response = Response(json.dumps(body), status=error.status, mimetype=PROBLEM_JSON)
    response.headers.update(error.headers)
    return response


def validation_problem(error: ValidationError) -> ProblemError:
    """422 listing each invalid field, without echoing the (maybe huge) input."""
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
        for e in error.errors(include_url=False, include_input=False)
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return ProblemError("invalid-fields", summary, errors=errors)


def http_problem(error: HTTPException) -> ProblemError:
    code = error.code or 500
    name = HTTP_STATUS_PROBLEMS.get(code, "bad-request" if code < 500 else "")
    return ProblemError(
        name or "internal-error",
        error.description or "",
        headers={k: v for k, v in error.get_headers() if k.lower() == "allow"},
    )


def domain_problem(error: Exception) -> ProblemError:
    """The problem a refused command answers with (stale versions name the current
    one in ETag)."""
    problem = next(p for p in PROBLEM_TYPES.values() if isinstance(error, p.raised_by))
    headers = {}
    if isinstance(error, StaleVersion):
        headers["ETag"] = f'"{error.current_version}"'
    return ProblemError(problem.name, str(error), headers=headers)


def store_unavailable_problem() -> ProblemError:
    """503 with Retry-After, for an error store_unavailable() accepts (its text,
    which may name the database's host, goes to the log only)."""
    return ProblemError(
        "store-unavailable",
        "The store refuses writes or cannot be reached just now; nothing was "
        "changed unless a retry with the same Idempotency-Key says so.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def register_problem_handlers(app: Flask) -> None:
    app.register_error_handler(ProblemError, problem_response)
    app.register_error_handler(
        ValidationError, lambda e: problem_response(validation_problem(e))
    )
    app.register_error_handler(
        HTTPException, lambda e: problem_response(http_problem(e))
    )
    for problem in PROBLEM_TYPES.values():
        for error_type in problem.raised_by:
            app.register_error_handler(
                error_type, lambda e: problem_response(domain_problem(e))
            )

    @app.errorhandler(Exception)
    def internal_error(error: Exception) -> Response:
        if store_unavailable(error):
            current_app.logger.warning("The store is unavailable: %s", error)
            return problem_response(store_unavailable_problem())
        current_app.logger.exception("Unhandled error")
        return problem_response(
            ProblemError("internal-error", "The server failed; see its log.")
        )
