"""Bearer tokens: only a hash of each is stored, and it is compared in constant time.

A token reads ``pf_<id>_<secret>``: the id finds the row, the secret proves it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from pressfeed.storage import Tables

ROLES = ("publisher", "auditor")
TABLE = "pf_tokens"


class TokenNameTaken(Exception):
    """Another active token already has that name."""


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the token's name (the actor in events) and its role."""

    name: str
    role: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenRegistry:
    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        d = tables.dialect
        with tables.cursor(commit=True) as c:
            c.execute(
                d.sql(
                    "CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, "
                    "name TEXT NOT NULL, role TEXT NOT NULL, secret_hash TEXT NOT NULL, "
                    "created_at TEXT NOT NULL, revoked_at TEXT)",
                    t=TABLE,
                )
            )
            c.execute(
                d.sql(
                    "CREATE UNIQUE INDEX IF NOT EXISTS pf_tokens_active_name "
                    "ON {t} (name) WHERE revoked_at IS NULL",
                    t=TABLE,
                )
            )

    def create(self, name: str, role: str) -> str:
        """Creates a token and returns it; the only time it is ever seen."""
        if role not in ROLES:
            raise ValueError(f"Unknown role {role!r}; roles: {', '.join(ROLES)}")
        if self._active_with_name(name):
            raise TokenNameTaken(f"An active token is already named {name!r}.")
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        self.tables.execute(
            "INSERT INTO {t} (id, name, role, secret_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (token_id, name, role, _hash(secret), datetime.now(UTC).isoformat()),
            t=TABLE,
        )
        return f"pf_{token_id}_{secret}"

    def authenticate(self, token: str) -> Caller | None:
        """The caller a token belongs to, or None if unknown or revoked."""
        prefix, _, rest = token.partition("_")
        token_id, _, secret = rest.partition("_")
        if prefix != "pf" or not token_id or not secret:
            return None
        rows = self.tables.query(
            "SELECT name, role, secret_hash FROM {t} "
            "WHERE id = ? AND revoked_at IS NULL",
            (token_id,),
            t=TABLE,
        )
        if not rows or not hmac.compare_digest(rows[0]["secret_hash"], _hash(secret)):
            return None
        return Caller(rows[0]["name"], rows[0]["role"])

    def list(self) -> list[dict[str, str | None]]:
        """Every token ever made (never the secret): name, role, created, revoked."""
        rows = self.tables.query(
            "SELECT name, role, created_at, revoked_at FROM {t} ORDER BY created_at",
            t=TABLE,
        )
        return [
            {key: row[key] for key in ("name", "role", "created_at", "revoked_at")}
            for row in rows
        ]

    def revoke(self, name: str) -> bool:
        """Revokes the active token with that name; False if there is none."""
        if not self._active_with_name(name):
            return False
        self.tables.execute(
            "UPDATE {t} SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
            (datetime.now(UTC).isoformat(), name),
            t=TABLE,
        )
        return True

    def _active_with_name(self, name: str) -> bool:
        return bool(
            self.tables.query(
                "SELECT 1 FROM {t} WHERE name = ? AND revoked_at IS NULL",
                (name,),
                t=TABLE,
            )
        )
