"""The log's Merkle tree for anyone, no token: its leaves, inclusion and
consistency proofs (RFC 9162 2.1.3, 2.1.4), the signed checkpoint and the key
that verifies it. A witness needs nothing else."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from flask import Blueprint, Response, request

from pressfeed.checkpoints import NoSigningKey
from pressfeed.transparency import MerkleTree, TreeError
from pressfeed.web.context import services
from pressfeed.web.problems import ProblemError

bp = Blueprint("transparency", __name__, url_prefix="/audit")

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
    index, size = whole("index"), whole("size")
    if not index < size:
        raise ProblemError("bad-tree-query", "index must be below size.")
    within_tree(size)
    hashes = proof(lambda tree: tree.inclusion_proof(index, size))
    return json_response({"hashes": hashes})


@bp.get("/proof/consistency")
def consistency() -> Response:
    """The proof that the tree of size `from` is a prefix of the tree of size `to`."""
    old, new = whole("from"), whole("to")
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


def signing(make: Callable[[], str]) -> str:
    try:
        return make()
    except NoSigningKey as error:
        raise ProblemError("no-signing-key", str(error)) from None


def text_response(body: str) -> Response:
    response = Response(body, content_type="text/plain; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache"
    return response


def whole(name: str, default: int | None = None) -> int:
    value = request.args.get(name)
    if value is None:
        if default is None:
            raise ProblemError("bad-tree-query", f"{name} is required.")
        return default
    if not WHOLE.fullmatch(value):
        raise ProblemError("bad-tree-query", f"{name} is a whole number from 0.")
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
