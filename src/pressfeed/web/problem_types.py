"""What each problem `type` URI means: served at /problems/<name> for people
who follow the link from an error."""

from __future__ import annotations

PROBLEM_TYPES: dict[str, str] = {
    "invalid-fields": "One or more fields are missing, of the wrong type or out of bounds; `errors` lists each.",
    "malformed-json": "The body is not valid UTF-8 JSON.",
    "unsupported-media-type": "Send the body as application/json.",
    "payload-too-large": "The request body is over the limit (1 MiB by default).",
    "request-entity-too-large": "The request body is over the limit (1 MiB by default).",
    "precondition-required": 'This command needs If-Match: "<version>", the ETag of the version you read.',
    "bad-if-match": 'If-Match is an ETag like "3" (the version you read), or *.',
    "stale-version": "The statement changed since the version you read; read it again (the answer's ETag names the current version) and retry.",
    "bad-idempotency-key": "An Idempotency-Key is 1 to 255 visible ASCII characters.",
    "idempotency-key-reused": "That Idempotency-Key was already used by you for a different request.",
    "bad-cursor": "Use the next_cursor of a previous page, unchanged.",
    "bad-page": "page is a whole number from 1.",
    "bad-accept-datetime": "Accept-Datetime is an HTTP date, e.g. Tue, 20 Mar 2001 20:35:00 GMT.",
    "not-found": "No such statement, version or page.",
    "retracted": "The statement is retracted: it takes no further command.",
    "already-published": "The statement is already published.",
    "not-scheduled": "The statement has no embargo to cancel.",
    "slug-taken": "Another statement already has that slug.",
    "change-note-required": "Every amendment of a published statement needs a change note.",
    "embargo-not-in-future": "An embargo time (publish_at) must lie in the future.",
    "publication-in-future": "A back-dated published_at must lie in the past; use publish_at to schedule.",
    "nothing-to-amend": "The amendment changes nothing.",
    "unknown-kind": "The kind is not one this press office publishes (see the OpenAPI description).",
    "unauthorized": "Send a valid token: Authorization: Bearer <token>.",
    "forbidden": "The token's role may not do this (publisher: commands; auditor: /audit).",
    "too-many-failed-authentications": "Too many failed authentications from your address; wait for Retry-After seconds.",
    "method-not-allowed": "That method is not allowed on this path; see the Allow header.",
    "internal-error": "The server failed; the press office's operators can find the cause in its log.",
}  # fmt: skip
