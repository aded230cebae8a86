"""/api/openapi.json, derived from the same pydantic models that validate requests."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from pressfeed.aggregates import STATUSES
from pressfeed.config import Settings
from pressfeed.schemas import (
    CURSOR_REGEX,
    KIND_REGEX,
    ApprovalRequest,
    FeatureRequest,
    Problem,
    RetractionRequest,
    ScheduleRequest,
    StatementAmendment,
    StatementCreate,
    StatementOut,
    StatementPage,
)
from pressfeed.web.problems import PROBLEM_TYPES

REF = "#/components/schemas/{model}"
MODELS = (
    ApprovalRequest,
    FeatureRequest,
    StatementCreate,
    StatementAmendment,
    ScheduleRequest,
    RetractionRequest,
    StatementOut,
    StatementPage,
    Problem,
)


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def json_body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


def answer(description: str, name: str, *, etag: bool = True) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": ref(name)}},
    }
    if etag:
        response["headers"] = {"ETag": {"schema": {"type": "string"}}}
    return response


def problems(*names: str) -> dict[str, Any]:
    """The answers of an operation's problem types, grouped by status."""
    content = {"application/problem+json": {"schema": ref("Problem")}}
    by_status: dict[int, list[str]] = {}
    for name in names:
        by_status.setdefault(PROBLEM_TYPES[name].status, []).append(name)
    return {
        str(status): {
            "description": "Problem: " + ", ".join(sorted(found)),
            "content": content,
        }
        for status, found in sorted(by_status.items())
    }


# The problem types each group of operations can answer with.
AUTH = ("unauthorized", "forbidden", "too-many-failed-authentications")
BODY = (
    "malformed-json",
    "payload-too-large",
    "unsupported-media-type",
    "invalid-fields",
)
IDEMPOTENT = ("bad-idempotency-key", "idempotency-key-reused")
VERSIONED = ("precondition-required", "bad-if-match", "stale-version")


STATEMENT_ID = {
    "name": "statement_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
# "3", W/"3", "3.<digest>" (a statement with translations), or *. (A list of
# tags naming one version is taken too, which a pattern cannot say.)
IF_MATCH_PATTERN = r'^(\*|(W/)?"[0-9]{1,9}(\.[0-9a-f]{12})?")$'
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": (
        'The ETag of the version you read ("<version>", or the whole ETag '
        '"<version>.<digest>" of a statement with translations), or * for any; '
        "a comma-separated list of such tags naming one version."
    ),
    "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "The ETag you hold: 304 while it is still the current one.",
    "schema": {"type": "string"},
}
NO_BODY = "invalid-fields"  # a command that takes no body refuses one
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "The same key and request again returns the first answer.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
}


def paths() -> dict[str, Any]:
    ok = answer("The statement", "StatementOut")
    return {
        "/api/statements": {
            "post": {
                "operationId": "createStatement",
                "parameters": [IDEMPOTENCY],
                "requestBody": json_body("StatementCreate"),
                "responses": {
                    "201": answer("Created", "StatementOut"),
                    **problems(
                        "second-pair-of-eyes-required",
                        *AUTH,
                        *BODY,
                        *IDEMPOTENT,
                        "retracted",
                        "slug-taken",
                        "unknown-kind",
                        "unknown-language",
                        "unknown-original",
                        "translation-taken",
                        "embargo-not-in-future",
                        "publication-in-future",
                    ),
                },
            },
            "get": {
                "operationId": "listStatements",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "enum": list(STATUSES),
                        },
                    },
                    {
                        "name": "kind",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "pattern": KIND_REGEX,
                            "maxLength": 40,
                        },
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "schema": {"type": "string", "pattern": CURSOR_REGEX},
                    },
                    {
                        "name": "q",
                        "in": "query",
                        "description": (
                            "Words to search for in title, summary, body and tags "
                            "(drafts included): best match first; the cursor is "
                            "then an offset."
                        ),
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    },
                ],
                "responses": {
                    "200": answer("A page, newest first", "StatementPage", etag=False),
                    **problems(*AUTH, "bad-cursor", "invalid-fields"),
                },
            },
        },
        "/api/statements/{id_or_slug}": {
            "get": {
                "operationId": "getStatement",
                "parameters": [
                    {
                        "name": "id_or_slug",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    IF_NONE_MATCH,
                    {
                        "name": "If-Match",
                        "in": "header",
                        "required": False,
                        "description": "412 unless it names the current ETag.",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": ok,
                    "304": {"description": "Not modified: the ETag sent is current"},
                    **problems(*AUTH, "not-found", "stale-version"),
                },
            }
        },
        "/api/statements/{statement_id}/amendments": {
            "post": {
                "operationId": "amendStatement",
                "parameters": [STATEMENT_ID, IF_MATCH, IDEMPOTENCY],
                "requestBody": json_body("StatementAmendment"),
                "responses": {
                    "200": ok,
                    **problems(
                        *AUTH,
                        *BODY,
                        *IDEMPOTENT,
                        *VERSIONED,
                        "not-found",
                        "retracted",
                        "change-note-required",
                        "nothing-to-amend",
                        "unknown-kind",
                    ),
                },
            }
        },
        "/api/statements/{statement_id}/publication": {
            "post": {
                "operationId": "publishStatement",
                "parameters": [STATEMENT_ID, IDEMPOTENCY],
                "responses": {
                    "200": ok,
                    **problems(
                        "second-pair-of-eyes-required",
                        *AUTH,
                        *IDEMPOTENT,
                        NO_BODY,
                        "not-found",
                        "already-published",
                        "retracted",
                    ),
                },
            }
        },
        "/api/statements/{statement_id}/schedule": {
            "put": {
                "operationId": "scheduleStatement",
                "parameters": [STATEMENT_ID],
                "requestBody": json_body("ScheduleRequest"),
                "responses": {
                    "200": ok,
                    **problems(
                        "second-pair-of-eyes-required",
                        *AUTH,
                        *BODY,
                        "not-found",
                        "already-published",
                        "retracted",
                        "embargo-not-in-future",
                    ),
                },
            },
            "delete": {
                "operationId": "unscheduleStatement",
                "parameters": [STATEMENT_ID],
                "responses": {
                    "200": ok,
                    **problems(
                        *AUTH, NO_BODY, "not-found", "not-scheduled", "retracted"
                    ),
                },
            },
        },
        "/api/statements/{statement_id}/translation": {
            "delete": {
                "operationId": "unlinkTranslation",
                "description": "Takes the statement out of its group of "
                "translations; the others stay linked.",
                "parameters": [STATEMENT_ID],
                "responses": {
                    "200": ok,
                    **problems(*AUTH, NO_BODY, "not-found", "not-a-translation"),
                },
            },
        },
        "/api/statements/{statement_id}/review": {
            "post": {
                "operationId": "submitForReview",
                "description": "Asks a publisher to approve the draft; asked "
                "again while it waits, records nothing.",
                "parameters": [STATEMENT_ID],
                "responses": {
                    "200": ok,
                    **problems(*AUTH, NO_BODY, "not-found", "not-a-draft", "retracted"),
                },
            }
        },
        "/api/statements/{statement_id}/approval": {
            "post": {
                "operationId": "approveStatement",
                "description": "Approves a statement in review and publishes it, "
                "or schedules it when the body gives publish_at.",
                "parameters": [STATEMENT_ID],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": ref("ApprovalRequest")}},
                },
                "responses": {
                    "200": ok,
                    **problems(
                        *AUTH,
                        *BODY,
                        "not-found",
                        "not-in-review",
                        "retracted",
                        "already-published",
                        "embargo-not-in-future",
                        "second-pair-of-eyes-required",
                    ),
                },
            }
        },
        "/api/featured": {
            "put": {
                "operationId": "featureStatement",
                "description": "Features a published statement on the front page.",
                "requestBody": json_body("FeatureRequest"),
                "responses": {
                    "200": answer("The featured statement", "StatementOut"),
                    **problems(*AUTH, *BODY, "not-found", "not-published"),
                },
            },
            "delete": {
                "operationId": "unfeatureStatement",
                "description": "The front page shows the newest statement first.",
                "responses": {
                    "204": {"description": "Nothing is featured"},
                    **problems(*AUTH, NO_BODY),
                },
            },
        },
        "/api/statements/{statement_id}/retraction": {
            "post": {
                "operationId": "retractStatement",
                "parameters": [STATEMENT_ID, IF_MATCH, IDEMPOTENCY],
                "requestBody": json_body("RetractionRequest"),
                "responses": {
                    "200": ok,
                    **problems(
                        "second-pair-of-eyes-required",
                        *AUTH,
                        *BODY,
                        *IDEMPOTENT,
                        *VERSIONED,
                        "not-found",
                        "retracted",
                    ),
                },
            }
        },
    }


@cache
def component_schemas() -> dict[str, Any]:
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "serialization" if m is StatementOut else "validation") for m in MODELS
    ]
    _, top = models_json_schema(modes, ref_template=REF)
    return top["$defs"]


def openapi_document(settings: Settings) -> dict[str, Any]:
    schemas = {name: dict(schema) for name, schema in component_schemas().items()}
    kind_enum = {"type": "string", "enum": list(settings.kinds)}
    for name in ("StatementCreate", "StatementAmendment"):
        properties = dict(schemas[name]["properties"])
        optional_kind = {"anyOf": [kind_enum, {"type": "null"}], "default": None}
        properties["kind"] = kind_enum if name == "StatementCreate" else optional_kind
        schemas[name] = {**schemas[name], "properties": properties}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{settings.site_title} - pressfeed API",
            "version": "1",
            "description": "Commands of the press office; errors are RFC 9457 problems.",
        },
        "servers": [{"url": settings.base_url}],
        "security": [{"bearer": []}],
        "paths": paths(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
