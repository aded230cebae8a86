"""Signed checkpoints of the log's Merkle tree: C2SP tlog-checkpoint notes,
signed as C2SP signed-notes with Ed25519.

A checkpoint is the note text

    <origin>\\n<tree size>\\n<base64 root hash>\\n

followed by a blank line and a signature line per signer,
``— <key name> <base64(key hash || signature)>``, where the key hash is the
first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key) and the
signature is Ed25519 over the note text's bytes. Keys are written in the
note format: the verifier key ``<name>+<key hash hex>+<base64(0x01 || public
key)>``, the signing key ``PRIVATE+KEY+<name>+<key hash hex>+<base64(0x01 ||
private key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

log = logging.getLogger(__name__)

ED25519 = b"\x01"
SIGNATURE_DASH = "\u2014"  # the em dash that starts a signature line


class NoteError(ValueError):
    """A note, key or checkpoint that does not parse or does not verify."""


class NoSigningKey(LookupError):
    """The press office has not created its signing key."""


def key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise NoteError(f"not base64: {text[:40]!r}") from None


def check_name(name: str) -> str:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"a key name has no spaces and no '+': {name!r}")
    return name


@dataclass(frozen=True)
class VerifierKey:
    name: str
    public: bytes

    @property
    def hash(self) -> bytes:
        return key_hash(self.name, self.public)

    def text(self) -> str:
        return f"{self.name}+{self.hash.hex()}+{b64(ED25519 + self.public)}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        name, _, rest = text.strip().partition("+")
        hash_hex, _, key = rest.partition("+")
        data = unb64(key)
        if len(data) != 33 or data[:1] != ED25519:
            raise NoteError("not an Ed25519 verifier key")
        found = cls(check_name(name), data[1:])
        if found.hash.hex() != hash_hex.lower():
            raise NoteError("the verifier key's hash does not match its name and key")
        return found

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    name: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> SigningKey:
        return cls(check_name(name), Ed25519PrivateKey.generate())

    @property
    def verifier(self) -> VerifierKey:
        public = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return VerifierKey(self.name, public)

    def text(self) -> str:
        seed = self.private.private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        return (
            f"PRIVATE+KEY+{self.name}+{self.verifier.hash.hex()}+{b64(ED25519 + seed)}"
        )

    @classmethod
    def parse(cls, text: str) -> SigningKey:
        parts = text.strip().split("+", 4)  # base64 may hold a "+"
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("not a signing key")
        data = unb64(parts[4])
        if len(data) != 33 or data[:1] != ED25519:
            raise NoteError("not an Ed25519 signing key")
        key = cls(check_name(parts[2]), Ed25519PrivateKey.from_private_bytes(data[1:]))
        if key.verifier.hash.hex() != parts[3].lower():
            raise NoteError("the signing key's hash does not match its name and key")
        return key

    def sign(self, text: str) -> str:
        """The note: its text, a blank line and this key's signature line."""
        signature = self.private.sign(text.encode())
        line = f"{SIGNATURE_DASH} {self.name} {b64(self.verifier.hash + signature)}\n"
        return f"{text}\n{line}"


def write_signing_key(path: Path, key: SigningKey) -> None:
    """Writes a new key file, readable by its owner only; never overwrites one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key.text() + "\n")


def read_signing_key(path: Path) -> SigningKey:
    try:
        return SigningKey.parse(path.read_text())
    except FileNotFoundError:
        raise NoSigningKey(
            f"No signing key at {path}: run `pressfeed keys create`."
        ) from None


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{b64(self.root)}\n"


def open_note(note: str, key: VerifierKey) -> str:
    """The text of a signed note that key signed; NoteError otherwise."""
    text, blank, signatures = note.partition("\n\n")
    if not blank or not text:
        raise NoteError("a signed note is text, a blank line and signatures")
    text += "\n"
    for line in signatures.splitlines():
        dash, _, rest = line.partition(" ")
        name, _, signature = rest.partition(" ")
        if dash != SIGNATURE_DASH or not signature:
            raise NoteError(f"not a signature line: {line[:80]!r}")
        data = unb64(signature)
        if name == key.name and data[:4] == key.hash:
            if key.verify(text.encode(), data[4:]):
                return text
            raise NoteError(f"the signature of {name} does not verify")
    raise NoteError(
        f"the note has no signature by the key {key.name}+{key.hash.hex()} "
        "(a key of another name, or another key of that name, signed it)"
    )


def parse_checkpoint(note: str, key: VerifierKey) -> Checkpoint:
    """A signed checkpoint, its signature by key checked."""
    lines = open_note(note, key).split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise NoteError("a checkpoint is origin, tree size and root hash")
    root = unb64(lines[2])
    if len(root) != 32:
        raise NoteError("a checkpoint's root hash has 32 bytes")
    return Checkpoint(lines[0], int(lines[1]), root)


class Checkpointer:
    """Signs the tree's latest root at most every `interval` seconds, and answers
    the newest one signed in between by any process: each keeps what it signs
    in the store (Ed25519 is deterministic: every process signs the same
    bytes for the same tree), so no process serves a checkpoint older than
    one another process served, which a witness would take for a log that
    shrank."""

    def __init__(
        self,
        tree_head: Callable[[], tuple[int, bytes]],
        key_path: Path,
        origin: str,
        interval: float,
        shared: SharedCheckpoint | None = None,
    ) -> None:
        """origin: the log's name, or "" for the signing key's name."""
        self._tree_head, self._key_path = tree_head, key_path
        self.origin, self.interval = origin, interval
        self._shared = shared or ProcessCheckpoint()
        self._key: SigningKey | None = None
        self._lock = threading.Lock()
        self._own: KeptNote | None = None  # the last note this process signed

    def key(self) -> SigningKey:
        if self._key is None:
            self._key = read_signing_key(self._key_path)
        return self._key

    def latest(self, covering: int = -1) -> str:
        """The latest signed checkpoint; signed afresh when older than the
        interval, or when its tree does not yet hold leaf index covering."""
        key = self.key()
        origin = self.origin or key.name
        signer = f"{origin} {b64(key.verifier.hash)}"
        kept = self._shared.kept()
        if self._fresh(kept, signer, covering):
            assert kept is not None
            return kept.note
        if kept is not None and kept.signer != signer:
            if self._fresh(self._own, signer, covering):  # no row flapping
                assert self._own is not None
                return self._own.note
            log.warning(  # a key or origin changing, or processes that disagree
                "The checkpoint kept was signed as %r; this process signs as %r",
                kept.signer,
                signer,
            )
        with self._lock:  # one signature at a time in this process
            size, root = self._tree_head()
            note = key.sign(Checkpoint(origin, size, root).text())
            self._own = KeptNote(signer, size, note, int(time.time() * 1_000_000))
            self._shared.keep(self._own)
        newest = self._shared.kept()  # another process's, if of a larger tree
        if newest is not None and newest.signer == signer and newest.size >= size:
            return newest.note
        return note

    def _fresh(self, kept: KeptNote | None, signer: str, covering: int) -> bool:
        if kept is None or kept.signer != signer or kept.size <= covering:
            return False
        return time.time() * 1_000_000 - kept.signed_us < self.interval * 1_000_000


@dataclass(frozen=True)
class KeptNote:
    """A signed checkpoint note, who signed it (origin and key hash), its tree
    size and when it was signed (microseconds since 1970)."""

    signer: str
    size: int
    note: str
    signed_us: int


class SharedCheckpoint(Protocol):
    """Where the processes of one log keep the newest checkpoint signed."""

    def kept(self) -> KeptNote | None: ...

    def keep(self, note: KeptNote) -> None:
        """Keeps note unless one of a larger tree by the same signer is kept."""


class ProcessCheckpoint:
    """A SharedCheckpoint within one process (tests, a lone verifier)."""

    def __init__(self) -> None:
        self._note: KeptNote | None = None

    def kept(self) -> KeptNote | None:
        return self._note

    def keep(self, note: KeptNote) -> None:
        held = self._note
        if held is None or held.signer != note.signer or note.size >= held.size:
            self._note = note
