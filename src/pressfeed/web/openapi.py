"""/api/openapi.json, derived from the same pydantic models that validate requests."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from pressfeed.config import Settings
from pressfeed.schemas import (
    CURSOR_REGEX,
    KIND_REGEX,
    Problem,
    RetractionRequest,
    ScheduleRequest,
    StatementAmendment,
    StatementCreate,
    StatementOut,
    StatementPage,
)

REF = "#/components/schemas/{model}"
MODELS = (
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


def problems(*statuses: int) -> dict[str, Any]:
    content = {"application/problem+json": {"schema": ref("Problem")}}
    return {str(s): {"description": "Problem", "content": content} for s in statuses}


STATEMENT_ID = {
    "name": "statement_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": 'The ETag ("<version>") of the version you read, or * for any.',
    "schema": {"type": "string", "pattern": r'^(\*|(W/)?"[0-9]{1,9}")$'},
}
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "The same key and request again returns the first answer.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
}
AUTH_PROBLEMS = (401, 403, 429)  # 429: too many failed authentications


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
                    **problems(400, *AUTH_PROBLEMS, 409, 413, 415, 422),
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
                            "enum": ["draft", "scheduled", "published", "retracted"],
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
                ],
                "responses": {
                    "200": answer("A page, newest first", "StatementPage", etag=False),
                    **problems(400, *AUTH_PROBLEMS, 422),
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
                    }
                ],
                "responses": {"200": ok, **problems(*AUTH_PROBLEMS, 404)},
            }
        },
        "/api/statements/{statement_id}/amendments": {
            "post": {
                "operationId": "amendStatement",
                "parameters": [STATEMENT_ID, IF_MATCH, IDEMPOTENCY],
                "requestBody": json_body("StatementAmendment"),
                "responses": {
                    "200": ok,
                    **problems(400, *AUTH_PROBLEMS, 404, 409, 412, 413, 415, 422, 428),
                },
            }
        },
        "/api/statements/{statement_id}/publication": {
            "post": {
                "operationId": "publishStatement",
                "parameters": [STATEMENT_ID, IDEMPOTENCY],
                "responses": {
                    "200": ok,
                    **problems(400, *AUTH_PROBLEMS, 404, 409, 422),
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
                    **problems(400, *AUTH_PROBLEMS, 404, 409, 413, 415, 422),
                },
            },
            "delete": {
                "operationId": "unscheduleStatement",
                "parameters": [STATEMENT_ID],
                "responses": {"200": ok, **problems(*AUTH_PROBLEMS, 404, 409)},
            },
        },
        "/api/statements/{statement_id}/retraction": {
            "post": {
                "operationId": "retractStatement",
                "parameters": [STATEMENT_ID, IF_MATCH, IDEMPOTENCY],
                "requestBody": json_body("RetractionRequest"),
                "responses": {
                    "200": ok,
                    **problems(400, *AUTH_PROBLEMS, 404, 409, 412, 413, 415, 422, 428),
                },
            }
        },
    }


@cache
def component_schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(m, "validation" if m.__name__ != "StatementOut" else "serialization")
         for m in MODELS],
        ref_template=REF,
    )  # fmt: skip
    return top["$defs"]


def openapi_document(settings: Settings) -> dict[str, Any]:
    schemas = {name: dict(schema) for name, schema in component_schemas().items()}
    kind_enum = {"type": "string", "enum": list(settings.kinds)}
    for name in ("StatementCreate", "StatementAmendment"):
        properties = dict(schemas[name]["properties"])
        properties["kind"] = kind_enum if name == "StatementCreate" else {
            "anyOf": [kind_enum, {"type": "null"}], "default": None
        }  # fmt: skip
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
