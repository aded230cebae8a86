"""The auditor's endpoints: history, versions, time travel, export, verification.
All need the auditor role, except /audit/head, which anyone may witness."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote
from uuid import UUID

from flask import (
    Blueprint,
    Response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.wrappers import Response as Redirect

from pressfeed.aggregates import Statement
from pressfeed.application import StatementNotFound, is_uuid
from pressfeed.representation import statement_document, with_url
from pressfeed.schemas import MAX_POSITION, Moment
from pressfeed.web.auth import require_role
from pressfeed.web.context import services

bp = Blueprint("audit", __name__, url_prefix="/audit")

NDJSON = "application/x-ndjson"


class LogQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after: int = Field(0, ge=0, le=MAX_POSITION)
    limit: int | None = Field(None, ge=1, le=MAX_POSITION)


class StateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: Moment


@bp.get("/statements/<uuid:statement_id>")
@require_role("auditor")
def history(statement_id: UUID) -> Response:
    entries = services().audit.history(statement_id)
    if wants_json():
        return json_response({"statement_id": str(statement_id), "events": entries})
    current = services().press_office.get_statement(statement_id)
    return Response(
        render_template("audit.html", statement=current, entries=entries),
        mimetype="text/html",
    )


@bp.get("/statements/<slug>", defaults={"rest": ""})
@bp.get("/statements/<slug>/<path:rest>")
@require_role("auditor")
def by_slug(slug: str, rest: str) -> Redirect:
    """A statement's audit pages by its slug: a permanent redirect to its id's
    (the audit's addresses name ids; a slug is what a reader has at hand).
    An id here is an address no audit page has: 404."""
    if is_uuid(slug):
        raise StatementNotFound(slug)
    statement = services().press_office.find_statement(slug)
    target = url_for(".history", statement_id=statement.id)
    if rest:
        target += "/" + quote(rest)
    if request.query_string:
        target += "?" + quote(request.query_string, safe="/?:@!$&'()*+,;=%")
    return redirect(target, 308)


@bp.get("/statements/<uuid:statement_id>/versions/<int:version>")
@require_role("auditor")
def version(statement_id: UUID, version: int) -> Response:
    statement = services().audit.version(statement_id, version)
    if wants_json():
        return representation(statement)
    page = render_template(
        "audit_version.html",
        statement=statement_document(statement),
        latest=services().press_office.get_statement(statement_id).version,
    )
    return Response(page, mimetype="text/html")


@bp.get("/statements/<uuid:statement_id>/state")
@require_role("auditor")
def state(statement_id: UUID) -> Response:
    query = StateQuery.model_validate(request.args.to_dict())
    return representation(services().audit.as_of(statement_id, query.as_of))


@bp.get("/log")
@require_role("auditor")
def log() -> Response:
    """The whole event log as NDJSON, streamed a batch at a time: each event
    with what its chain link hashes, for anyone to recompute the leaf."""
    query = LogQuery.model_validate(request.args.to_dict())
    trail = services().audit

    def lines() -> Iterator[str]:
        for record in trail.log(after=query.after, limit=query.limit, stored=True):
            yield json.dumps(record, ensure_ascii=False) + "\n"

    return Response(stream_with_context(lines()), mimetype=NDJSON)


@bp.get("/verify")
@require_role("auditor")
def verify() -> Response:
    report = services().ledger.verify().as_dict()
    if wants_json():
        return json_response(report)
    return Response(
        render_template("audit_verify.html", report=report), mimetype="text/html"
    )


@bp.get("/head")
def head() -> Response:
    """The newest {position, hash}: keep it, and later prove the log was not rewritten."""
    link = services().ledger.head()
    body = {"position": link.position if link else 0, "hash": link and link.hash}
    response = json_response(body)
    response.headers["Cache-Control"] = "no-cache"
    return response


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best != "text/html"


def representation(statement: Statement) -> Response:
    document = with_url(statement_document(statement), services().settings.base_url)
    response = json_response(document)
    response.headers["ETag"] = f'"{statement.version}"'
    return response


def json_response(body: object) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")
