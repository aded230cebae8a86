"""The publisher's command API: parse, call, answer. Refused commands answer with
the problem the registry in problems.py names for their error."""

from __future__ import annotations

import hashlib
import json
import re
from typing import TypeVar
from uuid import UUID

from flask import Blueprint, Response, request, url_for
from pydantic import BaseModel, ValidationError

from pressfeed.aggregates import Statement
from pressfeed.application import CommandResult, IdempotencyKey, StaleVersion
from pressfeed.projections.catalogue import list_statements
from pressfeed.projections.search import Scope, parse_query, search
from pressfeed.representation import (
    StatementDocument,
    receipt_reference,
    statement_document,
    with_body_html,
    with_translations,
    with_url,
)
from pressfeed.schemas import (
    CURSOR_REGEX,
    ApprovalRequest,
    FeatureRequest,
    ListQuery,
    RetractionRequest,
    ScheduleRequest,
    StatementAmendment,
    StatementCreate,
)
from pressfeed.web.auth import current_caller, require_role
from pressfeed.web.context import services
from pressfeed.web.problems import ProblemError, domain_problem, problem_response

bp = Blueprint("api", __name__, url_prefix="/api")

Model = TypeVar("Model", bound=BaseModel)

STATUS_OF_COMMAND = {"create": 201}
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# An ETag this API sends: the version, and for a statement with translations a
# digest of them (which If-Match does not compare: commands check the version).
IF_MATCH_TAG = re.compile(r'\s*(?:W/)?"([0-9]{1,9})(?:\.[0-9a-f]{12})?"\s*')


@bp.post("/statements")
@require_role("publisher")
def create_statement() -> Response:
    fields = parse_body(StatementCreate)
    new = fields.as_new_statement(services().settings.default_language)
    result = services().press_office.create_statement(
        new, actor=current_caller().name, idempotency=idempotency_key()
    )
    return command_answer(result)


@bp.put("/featured")
@require_role("publisher")
def feature_statement() -> Response:
    """Features a published statement (by id or slug) on the front page."""
    fields = parse_body(FeatureRequest)
    statement = services().press_office.feature(
        fields.statement, actor=current_caller().name
    )
    services().command_recorded()
    return statement_answer(statement, 200)


@bp.delete("/featured")
@require_role("publisher")
def unfeature_statement() -> Response:
    """The front page shows the newest statement first again."""
    refuse_a_body()
    services().press_office.unfeature(actor=current_caller().name)
    services().command_recorded()
    answer = Response(status=204)
    del answer.headers["Content-Type"]  # no content, so no type of it
    return answer


@bp.get("/statements/<id_or_slug>")
@require_role("publisher")
def get_statement(id_or_slug: str) -> Response:
    statement = services().press_office.find_statement(id_or_slug)
    answer = statement_answer(statement, 200)
    tag = answer.headers["ETag"]
    if request.if_match and not request.if_match.contains(tag.strip('"')):
        raise ProblemError(  # RFC 9110: If-Match compares strongly, also on GET
            "stale-version",
            f"The statement is now at version {statement.version}.",
            headers={"ETag": tag},
        )
    if request.if_none_match.contains_weak(tag.strip('"')):  # RFC 9110: weak
        return Response(status=304, headers={"ETag": tag})
    return answer


@bp.get("/statements")
@require_role("publisher")
def list_all_statements() -> Response:
    query = list_query()
    services().await_views()
    if query.q is not None:
        return search_answer(query)
    before = int(query.cursor) if query.cursor else None
    documents, next_position = list_statements(
        services().views,
        status=query.status,
        kind=query.kind,
        limit=query.limit,
        before_position=before,
    )
    base_url = services().settings.base_url
    body = {
        "items": [with_url(d, base_url) for d in documents],
        "next_cursor": str(next_position) if next_position else None,
    }
    return Response(json.dumps(body), mimetype="application/json")


def search_answer(query: ListQuery) -> Response:
    """A page of the publishers' search (any status); its cursor is an offset."""
    offset = int(query.cursor) if query.cursor else 0
    scope = Scope(status=query.status, kind=query.kind)
    found = search(
        services().views,
        parse_query(query.q or ""),
        limit=query.limit,
        offset=offset,
        scope=scope,
    )
    base_url = services().settings.base_url
    more = offset + len(found.hits) < found.total
    body = {
        "items": [
            with_url(with_body_html(hit.document), base_url) for hit in found.hits
        ],
        "next_cursor": str(offset + len(found.hits)) if more else None,
    }
    return Response(json.dumps(body), mimetype="application/json")


@bp.post("/statements/<uuid:statement_id>/amendments")
@require_role("publisher")
def amend_statement(statement_id: UUID) -> Response:
    fields = parse_body(StatementAmendment)
    result = services().press_office.amend(
        statement_id,
        expected_version=if_match_version(),
        changes=fields.changes(),
        change_note=fields.change_note,
        minor=fields.minor,
        actor=current_caller().name,
        idempotency=idempotency_key(),
    )
    return command_answer(result)


@bp.post("/statements/<uuid:statement_id>/publication")
@require_role("publisher")
def publish_statement(statement_id: UUID) -> Response:
    refuse_a_body()
    result = services().press_office.publish(
        statement_id, actor=current_caller().name, idempotency=idempotency_key()
    )
    return command_answer(result)


@bp.put("/statements/<uuid:statement_id>/schedule")
@require_role("publisher")
def schedule_statement(statement_id: UUID) -> Response:
    fields = parse_body(ScheduleRequest)
    result = services().press_office.schedule(
        statement_id, publish_at=fields.publish_at, actor=current_caller().name
    )
    return command_answer(result)


@bp.delete("/statements/<uuid:statement_id>/schedule")
@require_role("publisher")
def unschedule_statement(statement_id: UUID) -> Response:
    refuse_a_body()
    result = services().press_office.unschedule(
        statement_id, actor=current_caller().name
    )
    return command_answer(result)


@bp.post("/statements/<uuid:statement_id>/review")
@require_role("publisher")
def submit_for_review(statement_id: UUID) -> Response:
    refuse_a_body()
    result = services().press_office.submit_for_review(
        statement_id, actor=current_caller().name
    )
    return command_answer(result)


@bp.post("/statements/<uuid:statement_id>/approval")
@require_role("publisher")
def approve_statement(statement_id: UUID) -> Response:
    fields = parse_body(ApprovalRequest) if request.content_length else None
    result = services().press_office.approve(
        statement_id,
        actor=current_caller().name,
        publish_at=fields.publish_at if fields else None,
    )
    return command_answer(result)


@bp.post("/statements/<uuid:statement_id>/retraction")
@require_role("publisher")
def retract_statement(statement_id: UUID) -> Response:
    fields = parse_body(RetractionRequest)
    result = services().press_office.retract(
        statement_id,
        expected_version=if_match_version(),
        reason=fields.reason,
        actor=current_caller().name,
        idempotency=idempotency_key(),
    )
    return command_answer(result)


@bp.delete("/statements/<uuid:statement_id>/translation")
@require_role("publisher")
def unlink_translation(statement_id: UUID) -> Response:
    """Takes the statement out of its group of translations."""
    refuse_a_body()
    result = services().press_office.unlink_translation(
        statement_id, actor=current_caller().name
    )
    return command_answer(result)


# Request parsing


def list_query() -> ListQuery:
    """The list's query string; a cursor not made by us is a bad-cursor."""
    args = request.args.to_dict()
    cursor = args.get("cursor")
    if cursor is not None and not re.fullmatch(CURSOR_REGEX, cursor):
        raise ProblemError(
            "bad-cursor", "Use the next_cursor of a previous page, unchanged."
        )
    return ListQuery.model_validate(args)


def parse_body(model: type[Model]) -> Model:
    """The JSON body validated by model: 415, 400 or 422 when it is not."""
    if request.mimetype != "application/json":  # not a merge patch, say
        raise ProblemError(
            "unsupported-media-type", "Send the body as application/json."
        )
    raw = request.get_data(cache=True)
    malformed = ProblemError(
        "malformed-json", "The request body is not valid UTF-8 JSON."
    )
    try:  # UTF-8 as RFC 8259 says: json.loads alone would take UTF-16 or a BOM
        json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise malformed from None
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:  # pydantic's parser is stricter (surrogates)
        if any(e["type"] == "json_invalid" for e in error.errors()):
            raise malformed from None
        raise


def refuse_a_body() -> None:
    """A command that takes no body refuses one (422), and changes nothing: a
    publish_at sent to /publication must not publish at once."""
    if request.content_length or request.get_data(cache=True):
        raise ProblemError(
            "invalid-fields",
            "(body): this command takes no body (to schedule, PUT its "
            "/schedule with publish_at)",
            errors=[{"field": "(body)", "message": "this command takes no body"}],
        )


def if_match_version() -> int | None:
    """The version the caller read, from If-Match: 428 without one, 400 when it is
    no ETag; '*' (None) means whatever version is current when the command is
    saved, so a lost race is retried on fresh state and never answers 412."""
    header = request.headers.get("If-Match")
    if header is None:
        raise ProblemError(
            "precondition-required",
            'Send If-Match: "<version>" with the version you read (its ETag).',
        )
    if header.strip() == "*":
        return None
    tags = [IF_MATCH_TAG.fullmatch(part) for part in header.split(",")]
    versions = {int(tag.group(1)) for tag in tags if tag is not None}
    if None in tags or len(versions) != 1:
        raise ProblemError(
            "bad-if-match",
            f'If-Match {header[:40]!r} is not an ETag like "3" (or *), '
            "or a list of ETags of one version.",
        )
    return versions.pop()


def idempotency_key() -> IdempotencyKey | None:
    """The caller's Idempotency-Key, with a fingerprint of this exact request."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ProblemError(
            "bad-idempotency-key",
            "An Idempotency-Key is 1 to 255 visible ASCII characters.",
        )
    body_digest = hashlib.sha256(request.get_data(cache=True)).hexdigest()
    request_line = f"{request.method} {request.path} {request.headers.get('If-Match')}"
    fingerprint = hashlib.sha256(f"{request_line}\n{body_digest}".encode()).hexdigest()
    return IdempotencyKey(current_caller().name, key, fingerprint)


# Answers


def etag(version: int, translations: object = None) -> str:
    """A statement's ETag: its version, which If-Match names; for a statement
    with translations, followed by a digest of what the answer says of them
    (their slugs, statuses, versions), which change without its version."""
    if not translations:
        return f'"{version}"'
    said = json.dumps(translations, sort_keys=True, separators=(",", ":"))
    return f'"{version}.{hashlib.sha256(said.encode()).hexdigest()[:12]}"'


@bp.errorhandler(StaleVersion)
def stale_version(error: StaleVersion) -> Response:
    """412 naming the current version by the whole ETag a GET of it sends."""
    problem = domain_problem(error)
    statement = services().press_office.get_statement(
        UUID(str((request.view_args or {})["statement_id"]))
    )
    document = document_with_translations(statement)
    problem.headers["ETag"] = etag(statement.version, document.get("translations"))
    return problem_response(problem)


def document_with_translations(statement: Statement) -> StatementDocument:
    """The statement's document as the API answers it, its translations in."""
    base_url = services().settings.base_url
    translations = [
        statement_document(other, html=False)
        for other in services().press_office.translations(statement)
    ]
    return with_translations(
        with_url(statement_document(statement), base_url), translations, base_url
    )


def statement_answer(statement: Statement, status: int) -> Response:
    base_url = services().settings.base_url
    document = document_with_translations(statement)
    leaf = services().ledger.leaf(statement.id, statement.version)
    if leaf is not None:  # recorded with its event: absent only mid-migration
        document["receipt"] = receipt_reference(document, *leaf, base_url)
    response = Response(
        json.dumps(document), status=status, mimetype="application/json"
    )
    response.headers["ETag"] = etag(statement.version, document.get("translations"))
    if status == 201:
        response.headers["Location"] = url_for(
            "api.get_statement", id_or_slug=str(statement.id), _external=False
        )
    return response


def command_answer(result: CommandResult) -> Response:
    services().command_recorded()
    response = statement_answer(
        result.statement, STATUS_OF_COMMAND.get(result.command, 200)
    )
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
