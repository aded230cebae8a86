"""A witness for outsiders: keeps the last checkpoint it saw of a press office's
log, and refuses any later one that is not an extension of it. It reads only
the public routes (/audit/checkpoint, /audit/proof/consistency), so anyone can
run it against a press office they do not control.

And the check of a statement receipt a journalist kept (check_receipt): its
checkpoint's signature, its leaf's inclusion proof against that checkpoint's
root and, against the live log, that the log still extends that checkpoint."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pressfeed.checkpoints import Checkpoint, NoteError, VerifierKey, parse_checkpoint
from pressfeed.transparency import TreeError, consistent, leaf_hash, root_from_inclusion

STATE_FILE = "checkpoint"


class WitnessFailure(Exception):
    """The log forked, shrank or was rewritten (or did not answer as it must)."""


class LogDidNotAnswer(OSError):
    """The log served a checkpoint, then no answer to the consistency proof
    (a network or HTTP error): perhaps passing, so no verdict either way."""


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "pressfeed-witness"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return bytes(answer.read())


def describe(checkpoint: Checkpoint) -> str:
    return f"{checkpoint.origin} size {checkpoint.size} root {checkpoint.root.hex()}"


def witness(
    base_url: str,
    key: VerifierKey,
    state: Path,
    get: Callable[[str], bytes] = fetch,
) -> str:
    """Checks the log's latest checkpoint against the one stored in state, and
    stores it; WitnessFailure (naming both) when it does not extend it."""
    base_url = base_url.rstrip("/")
    note = get(f"{base_url}/audit/checkpoint").decode(errors="replace")
    try:
        current = parse_checkpoint(note, key)
    except NoteError as error:
        raise WitnessFailure(f"The checkpoint does not verify: {error}") from None
    state.mkdir(parents=True, exist_ok=True)
    stored = state / STATE_FILE
    previous = parse_checkpoint(stored.read_text(), key) if stored.exists() else None
    if previous is not None:
        problem = None
        if current.origin != previous.origin:
            problem = "the log's origin changed"
        elif current.size < previous.size:
            problem = "the log shrank"
        elif current.size == previous.size and current.root != previous.root:
            problem = "the log was rewritten (same size, another root)"
        elif previous.size and current.size > previous.size:
            try:
                proof = served_proof(base_url, previous.size, current.size, get)
            except OSError as error:
                evidence = keep(state, "unproven", note)
                raise LogDidNotAnswer(
                    f"{error} (asked for a consistency proof after serving "
                    f"{describe(current)}, kept in {evidence})"
                ) from error
            if proof is None:
                problem = "the log answered with no consistency proof"
            elif not consistent(
                previous.size, current.size, previous.root, current.root, proof
            ):
                problem = "the log forked or was rewritten (no consistency proof)"
        if problem:
            evidence = keep(state, "conflict", note)
            raise WitnessFailure(
                f"{problem}: stored checkpoint {describe(previous)}; "
                f"served checkpoint {describe(current)} (kept in {evidence})"
            )
    partial = state / f".{STATE_FILE}.new"
    partial.write_text(note)
    os.replace(partial, stored)
    was = f"was {previous.size}" if previous else "first seen"
    return f"ok: {describe(current)} ({was})"


def keep(state: Path, kind: str, note: str) -> Path:
    """Keeps a served checkpoint as evidence beside the state; its path."""
    stamp, n = int(time.time()), 0
    while True:  # two in one second: both kept
        evidence = state / f"{kind}-{stamp}{f'-{n}' if n else ''}.checkpoint"
        try:
            with evidence.open("x") as file:
                file.write(note)
            return evidence
        except FileExistsError:
            n += 1


def served_proof(
    base_url: str, old: int, new: int, get: Callable[[str], bytes]
) -> list[bytes] | None:
    """The consistency proof the log serves from size old to new; None when
    its answer is no proof at all (not JSON, no list of hexadecimal hashes).
    OSError when it does not answer."""
    query = urlencode({"from": old, "to": new})
    body = get(f"{base_url}/audit/proof/consistency?{query}")
    try:
        return [bytes.fromhex(h) for h in json.loads(body)["hashes"]]
    except (ValueError, KeyError, TypeError):
        return None


def whole(value: object) -> int:
    """A JSON whole number (not a string, a fraction or a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return value


def check_receipt(
    receipt: dict[str, Any],
    key: VerifierKey,
    against: str | None = None,
    get: Callable[[str], bytes] = fetch,
) -> str:
    """Checks a receipt (/statements/<slug>/receipt, kept as a file) offline,
    and with against (the press office's base URL) that the log served now
    still holds the receipt's checkpoint; WitnessFailure says what fails."""
    try:
        signed = parse_checkpoint(receipt["checkpoint"], key)
        leaf = bytes.fromhex(receipt["leaf"])
        index, size = whole(receipt["leaf_index"]), whole(receipt["tree_size"])
        proof = [bytes.fromhex(h) for h in receipt["inclusion_proof"]]
        statement = receipt["statement"]
    except KeyError as missing:
        raise WitnessFailure(f"Not a receipt: it has no {missing}") from None
    except (TypeError, ValueError, AttributeError, NoteError) as error:
        raise WitnessFailure(f"Not a receipt this key signed: {error}") from None
    if not isinstance(statement, dict):
        raise WitnessFailure("Not a receipt: its statement is not an object")
    if (
        size != signed.size
        or leaf_hash(leaf).hex() != receipt.get("leaf_hash")
        or receipt.get("root_hash") != signed.root.hex()
    ):
        raise WitnessFailure(
            "The receipt's size, leaf hash or root hash is not its checkpoint's"
        )
    try:
        root = root_from_inclusion(index, size, leaf, proof)
    except TreeError as error:
        raise WitnessFailure(f"The inclusion proof is malformed: {error}") from None
    if root != signed.root:
        raise WitnessFailure(
            f"The inclusion proof does not lead to the checkpoint's root ({describe(signed)})"
        )
    found = (
        f"ok: leaf {index} ({leaf.hex()}) is in {describe(signed)}. The receipt "
        f"says it is version {statement.get('version')!r} of statement "
        f"{statement.get('id')!r} ({statement.get('title')!r}): the press office's "
        "word, which the event behind that leaf (its /audit/log record carries "
        "that hash) proves or disproves"
    )
    if against is None:
        return found
    return f"{found}; {extends(against.rstrip('/'), key, signed, get)}"


def extends(
    base_url: str, key: VerifierKey, old: Checkpoint, get: Callable[[str], bytes]
) -> str:
    """Checks the log served at base_url extends checkpoint old."""
    try:
        current = parse_checkpoint(
            get(f"{base_url}/audit/checkpoint").decode(errors="replace"), key
        )
    except NoteError as error:
        raise WitnessFailure(
            f"The served checkpoint does not verify: {error}"
        ) from None
    proof: list[bytes] | None = []
    if old.size and current.size > old.size:
        proof = served_proof(base_url, old.size, current.size, get)
    if proof is None:
        raise WitnessFailure(
            f"The log served now ({describe(current)}) answered with no "
            "consistency proof from the receipt's checkpoint"
        )
    if current.origin != old.origin or not consistent(
        old.size, current.size, old.root, current.root, proof
    ):
        raise WitnessFailure(
            f"The log served now ({describe(current)}) does not extend the "
            f"receipt's checkpoint ({describe(old)})"
        )
    return f"the log served now ({describe(current)}) still holds it"
