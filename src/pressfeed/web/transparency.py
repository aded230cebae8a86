"""The log's Merkle tree for anyone, no token: its leaves, inclusion and
consistency proofs (RFC 9162 2.1.3, 2.1.4), the signed checkpoint and the key
that verifies it. A witness needs nothing else.

And each public statement's receipt (/statements/<slug>/receipt): one JSON
document with its current version's leaf, the latest signed checkpoint and the
inclusion proof against it, for a journalist to keep with a quote."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

from flask import Blueprint, Flask, Response, request

from pressfeed.checkpoints import NoSigningKey, parse_checkpoint
from pressfeed.projections.catalogue import public_statement
from pressfeed.representation import receipt_reference
from pressfeed.transparency import MerkleTree, TreeError
from pressfeed.urls import absolute, inclusion_proof_path, statement_path
from pressfeed.web.context import services
from pressfeed.web.problems import ProblemError

log = logging.getLogger(__name__)
bp = Blueprint("transparency", __name__, url_prefix="/audit")
receipts = Blueprint("receipts", __name__)
RECEIPT_FORMAT = "pressfeed-receipt/1"

MAX_LEAVES = 1000
WHOLE = re.compile(r"[0-9]{1,18}")


@bp.get("/leaves")
def leaves() -> Response:
    """[{index, hash}] of the tree's leaves from start (at most 1,000)."""
    start = whole("start", 0)
    limit = whole("limit", MAX_LEAVES)
    if not 1 <= limit <= MAX_LEAVES:
        raise ProblemError("bad-tree-query", f"limit is 1 to {MAX_LEAVES}.")
    found = services().ledger.leaves(start, limit)
    return json_response([{"index": i, "hash": h} for i, h in found])


@bp.get("/proof/inclusion")
def inclusion() -> Response:
    """The audit path of leaf index in the tree of size leaves."""
    index, size = whole("index"), whole("size", least=1)
    if not index < size:
        raise ProblemError("bad-tree-query", "index must be below size.")
    within_tree(size)
    hashes = proof(lambda tree: tree.inclusion_proof(index, size))
    return json_response({"hashes": hashes})


@bp.get("/proof/consistency")
def consistency() -> Response:
    """The proof that the tree of size `from` is a prefix of the tree of size `to`."""
    old, new = whole("from", least=1), whole("to", least=1)
    if not 1 <= old <= new:
        raise ProblemError("bad-tree-query", "from and to must be 1 <= from <= to.")
    within_tree(new)
    hashes = proof(lambda tree: tree.consistency_proof(old, new))
    return json_response({"hashes": hashes})


@bp.get("/checkpoint")
def checkpoint() -> Response:
    """The latest signed checkpoint (C2SP tlog-checkpoint, signed-note Ed25519)."""
    return text_response(signing(lambda: services().checkpoints.latest()))


@bp.get("/key")
def key() -> Response:
    """The verifier key of the checkpoints, in the note format."""
    return text_response(
        signing(lambda: services().checkpoints.key().verifier.text() + "\n")
    )


@receipts.get("/statements/<slug>/receipt")
def receipt(slug: str) -> Response:
    """The proof that a public statement's current version is in the log: its
    leaf, the latest signed checkpoint, and the inclusion proof against it."""
    s = services()
    document = public_statement(s.views, slug)
    if document is None and published_just_now(slug):  # the views follow it
        s.await_views()
        document = public_statement(s.views, slug)
    if document is None:
        raise ProblemError("not-found", "No public statement has that address.")
    version = s.audit.shown_version(UUID(document["id"]), document["version"])
    document = {**document, "version": version}  # the version readers see
    found = s.ledger.leaf(UUID(document["id"]), version)
    if found is None:
        raise ProblemError("not-found", "The log's tree does not hold it yet.")
    index, leaf = found
    note = signing(lambda: s.checkpoints.latest(covering=index))
    checkpoint = parse_checkpoint(note, s.checkpoints.key().verifier)
    hashes = proof(lambda tree: tree.inclusion_proof(index, checkpoint.size))
    base_url = s.settings.base_url
    reference = receipt_reference(document, index, leaf, base_url)
    body: dict[str, Any] = {
        "format": RECEIPT_FORMAT,
        "statement": {
            "id": document["id"],
            "slug": document["slug"],
            "title": document["title"],
            "version": document["version"],
            "status": document["status"],
            "url": absolute(base_url, statement_path(document["slug"])),
        },
        "leaf_index": index,
        "leaf": leaf,
        "leaf_hash": reference["leaf_hash"],
        "tree_size": checkpoint.size,
        "root_hash": checkpoint.root.hex(),
        "inclusion_proof": hashes,
        "checkpoint": note,
        "verifier_key": s.checkpoints.key().verifier.text(),
        "proof_url": absolute(base_url, inclusion_proof_path(index, checkpoint.size)),
        "checkpoint_url": reference["checkpoint_url"],
        "key_url": reference["key_url"],
    }
    response = json_response(body)
    name = f"{document['slug']}-v{document['version']}-receipt.json"
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return response


def signs_checkpoints() -> bool:
    """Whether this press office has a signing key (else it offers no receipts)."""
    return services().settings.signing_key_path.exists()


def register_receipts(app: Flask) -> None:
    """The receipt route, and signs_checkpoints() for the statement page."""
    app.register_blueprint(receipts)
    app.context_processor(lambda: {"signs_checkpoints": signs_checkpoints})


def published_just_now(slug: str) -> bool:
    """Whether the event store has a public statement of this slug (that the
    views lack: a receipt asked for as soon as its create answered)."""
    office = services().press_office
    owner = office.slug_owner(slug)
    return owner is not None and office.get_statement(owner).was_public


def signing(make: Callable[[], str]) -> str:
    try:
        return make()
    except NoSigningKey as error:
        log.warning("%s", error)  # where the key was looked for: the operator's
        raise ProblemError(
            "no-signing-key",
            "This press office has no signing key yet: its operator creates one "
            "with `pressfeed keys create`.",
        ) from None


def text_response(body: str) -> Response:
    response = Response(body, content_type="text/plain; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache"
    return response


def whole(name: str, default: int | None = None, least: int = 0) -> int:
    """A query's whole number, spelt one way only: given once, in digits,
    without leading zeros (so that one proof has one address a cache keeps)."""
    values = request.args.getlist(name)
    if not values:
        if default is None:
            raise ProblemError("bad-tree-query", f"{name} is required.")
        return default
    value = values[0]
    canonical = WHOLE.fullmatch(value) and (value == "0" or value[0] != "0")
    if len(values) > 1 or not canonical or int(value) < least:
        raise ProblemError(
            "bad-tree-query",
            f"{name} is given once, as a whole number from {least} of at most "
            "18 digits and no leading zeros.",
        )
    return int(value)


def within_tree(size: int) -> None:
    have = services().ledger.tree.size()
    if size > have:
        raise ProblemError(
            "beyond-tree-size",
            f"The tree has {have} leaves; no proof for a tree of {size}.",
        )


def proof(make: Callable[[MerkleTree], list[bytes]]) -> list[str]:
    try:
        return [h.hex() for h in make(services().ledger.tree)]
    except TreeError as error:  # the tree moved under us, or lacks a subtree
        raise ProblemError("beyond-tree-size", str(error)) from None


def json_response(body: object) -> Response:
    response = Response(json.dumps(body), mimetype="application/json")
    response.headers["Cache-Control"] = "no-cache"
    return response
