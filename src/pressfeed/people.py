"""The people of the press office: accounts with a role, an argon2id password hash
and an optional TOTP second factor, and their server-side sessions.

A session is known to the server by a SHA-256 of its random token only, so the
store never holds a cookie that works. Disabling an account, changing its role
or its password deletes all its sessions at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventsourcing.persistence import IntegrityError

from pressfeed.storage import Tables

PERSON_ROLES = ("writer", "publisher", "auditor", "admin")
PEOPLE = "pf_people"
SESSIONS = "pf_sessions"
# Forms a person sent after their session ended, kept for them once they
# signed in again (only a hash of the token that finds one is stored).
KEPT_FORMS = "pf_kept_forms"
KEPT_FOR = timedelta(days=1)
KEPT_PER_PERSON = 5  # the newest forms of each person; older ones are forgotten

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # hashing is deliberately slow: no megabyte passwords
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
LAST_SEEN_EVERY = timedelta(minutes=1)  # a session's last_seen is written this often
TOTP_ISSUER = "pressfeed"


class PersonNameTaken(Exception):
    """Another account already has that name."""


class PersonNotFound(LookupError):
    """No account has that name."""


class BadPassword(ValueError):
    """A new password that is too short or too long."""


@dataclass(frozen=True)
class Person:
    """Someone with an account: the name is the actor in the events they cause."""

    name: str
    role: str
    must_change_password: bool
    totp_enabled: bool
    disabled: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    """The name if it may name an account (it appears in URLs and in events)."""
    if not NAME.fullmatch(name):
        raise ValueError(
            "A name is 1 to 64 letters, digits, dots, hyphens, underscores or @, "
            "starting with a letter or digit."
        )
    return name


def check_role(role: str) -> str:
    if role not in PERSON_ROLES:
        raise ValueError(f"Unknown role {role!r}; roles: {', '.join(PERSON_ROLES)}")
    return role


def check_password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise BadPassword(
            f"A password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
        )
    return password


class PeopleRegistry:
    """Accounts and sessions, in two tables beside the event log."""

    def __init__(self, tables: Tables, hasher: PasswordHasher | None = None) -> None:
        self.tables = tables
        self.hasher = hasher or PasswordHasher()  # argon2id, the library's defaults
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        d = tables.dialect
        with tables.cursor(commit=True) as c:
            c.execute(
                d.sql(
                    "CREATE TABLE IF NOT EXISTS {t} (name TEXT PRIMARY KEY, "
                    "role TEXT NOT NULL, password_hash TEXT NOT NULL, "
                    "must_change_password INTEGER NOT NULL, totp_secret TEXT, "
                    f"totp_last_counter {d.bigint}, created_at TEXT NOT NULL, "
                    "disabled_at TEXT)",
                    t=PEOPLE,
                )
            )
            c.execute(
                d.sql(
                    "CREATE TABLE IF NOT EXISTS {t} (token_hash TEXT PRIMARY KEY, "
                    "name TEXT NOT NULL, created_at TEXT NOT NULL, "
                    "last_seen TEXT NOT NULL)",
                    t=SESSIONS,
                )
            )
            c.execute(
                d.sql(
                    "CREATE INDEX IF NOT EXISTS pf_sessions_name ON {t} (name)",
                    t=SESSIONS,
                )
            )
            c.execute(
                d.sql(
                    "CREATE TABLE IF NOT EXISTS {t} (token_hash TEXT PRIMARY KEY, "
                    "name TEXT NOT NULL, path TEXT NOT NULL, fields TEXT NOT NULL, "
                    "created_at TEXT NOT NULL)",
                    t=KEPT_FORMS,
                )
            )

    # Accounts

    def create(self, name: str, role: str, password: str | None) -> str | None:
        """Creates an account. Without a password, makes a one-time password that
        must be changed at first sign-in, and returns it (the only time it is
        seen); with one, returns None."""
        check_name(name)
        check_role(role)
        one_time = password is None
        if password is None:
            password = secrets.token_urlsafe(12)
        check_password(password)
        if self._row(name) is not None:
            raise PersonNameTaken(f"An account is already named {name!r}.")
        try:
            self.tables.execute(
                "INSERT INTO {t} (name, role, password_hash, must_change_password, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                (name, role, self.hasher.hash(password), int(one_time), _iso(_now())),
                t=PEOPLE,
            )
        except IntegrityError:
            raise PersonNameTaken(f"An account is already named {name!r}.") from None
        return password if one_time else None

    def list(self) -> list[Person]:
        """Every account, disabled ones included, by name."""
        rows = self.tables.query(
            "SELECT name, role, must_change_password, totp_secret, disabled_at "
            "FROM {t} ORDER BY name",
            t=PEOPLE,
        )
        return [_person(row) for row in rows]

    def get(self, name: str) -> Person | None:
        row = self._row(name)
        return None if row is None else _person(row)

    def disable(self, name: str) -> None:
        """Disables the account and ends its sessions; it can no longer sign in."""
        self._require(name)
        self._update_and_end_sessions(
            "UPDATE {t} SET disabled_at = ? WHERE name = ? AND disabled_at IS NULL",
            (_iso(_now()), name),
            name,
        )

    def set_role(self, name: str, role: str) -> None:
        """Gives the account another role and ends its sessions."""
        check_role(role)
        self._require(name)
        self._update_and_end_sessions(
            "UPDATE {t} SET role = ? WHERE name = ?", (role, name), name
        )

    def change_password(self, name: str, new: str) -> None:
        """Sets a new password (no longer one-time) and ends every session."""
        check_password(new)
        self._require(name)
        self._update_and_end_sessions(
            "UPDATE {t} SET password_hash = ?, must_change_password = 0 WHERE name = ?",
            (self.hasher.hash(new), name),
            name,
        )

    def verify_password(self, name: str, password: str) -> Person | None:
        """The person if the password is theirs and the account is enabled, else
        None. An unknown name costs the same hashing as a known one; a hash made
        with older parameters is replaced."""
        row = self._row(name)
        if row is None or len(password) > MAX_PASSWORD_LENGTH:
            self._verify(self._dummy_hash, password[:MAX_PASSWORD_LENGTH])
            return None
        if not self._verify(row["password_hash"], password) or row["disabled_at"]:
            return None
        if self.hasher.check_needs_rehash(row["password_hash"]):
            self.tables.execute(
                "UPDATE {t} SET password_hash = ? WHERE name = ? AND password_hash = ?",
                (self.hasher.hash(password), name, row["password_hash"]),
                t=PEOPLE,
            )
        return _person(row)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # The second factor

    def enable_totp(self, name: str, issuer: str = TOTP_ISSUER) -> str:
        """Gives the account a new TOTP secret (replacing any earlier one) and
        returns its provisioning URI, for an authenticator app."""
        self._require(name)
        secret = pyotp.random_base32()
        self.tables.execute(
            "UPDATE {t} SET totp_secret = ?, totp_last_counter = NULL WHERE name = ?",
            (secret, name),
            t=PEOPLE,
        )
        return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=issuer)

    def verify_totp(self, name: str, code: str) -> bool:
        """Whether code is the account's current TOTP code (or the one just
        before or after it); a code is accepted once only."""
        row = self._row(name)
        if row is None or not row["totp_secret"] or row["disabled_at"]:
            return False
        totp = pyotp.TOTP(row["totp_secret"])
        code = code.strip().replace(" ", "")
        current = totp.timecode(_now())
        last = row["totp_last_counter"]
        for counter in (current - 1, current, current + 1):
            if last is not None and counter <= last:
                continue
            if hmac.compare_digest(totp.generate_otp(counter), code):
                with self.tables.cursor(commit=True) as c:
                    c.execute(
                        self.tables.dialect.sql(
                            "UPDATE {t} SET totp_last_counter = ? WHERE name = ? "
                            "AND (totp_last_counter IS NULL OR totp_last_counter < ?) "
                            "RETURNING name",
                            t=PEOPLE,
                        ),
                        (counter, name, counter),
                    )
                    return bool(c.fetchall())  # not if used at the same time
        return False

    # Sessions

    def start_session(self, name: str) -> str:
        """A new session of the person; returns its token (only a hash is kept)."""
        self._require(name)
        token = secrets.token_urlsafe(32)
        now = _iso(_now())
        self.tables.execute(
            "INSERT INTO {t} (token_hash, name, created_at, last_seen) "
            "VALUES (?, ?, ?, ?)",
            (_token_hash(token), name, now, now),
            t=SESSIONS,
        )
        return token

    def session(self, token: str, idle_seconds: float) -> Person | None:
        """The person of a live session: None when the token is unknown, the
        session idle for longer than idle_seconds (it is then ended), or the
        account disabled. Marks the session as seen (at most once a minute)."""
        if not token:
            return None
        token_hash = _token_hash(token)
        rows = self.tables.query(
            "SELECT s.last_seen, p.name, p.role, p.must_change_password, "
            "p.totp_secret, p.disabled_at FROM {s} s JOIN {p} p ON p.name = s.name "
            "WHERE s.token_hash = ?",
            (token_hash,),
            s=SESSIONS,
            p=PEOPLE,
        )
        if not rows:
            return None
        row, now = rows[0], _now()
        last_seen = datetime.fromisoformat(row["last_seen"])
        if row["disabled_at"] or now - last_seen > timedelta(seconds=idle_seconds):
            self._end(token_hash)
            return None
        if now - last_seen >= LAST_SEEN_EVERY:
            self.tables.execute(
                "UPDATE {t} SET last_seen = ? WHERE token_hash = ?",
                (_iso(now), token_hash),
                t=SESSIONS,
            )
        return _person(row)

    def end_session(self, token: str) -> None:
        self._end(_token_hash(token))

    def end_sessions(self, name: str) -> None:
        """Ends every session of the person."""
        self.tables.execute("DELETE FROM {t} WHERE name = ?", (name,), t=SESSIONS)

    def end_idle_sessions(self, idle_seconds: float) -> None:
        """Forgets the sessions idle for longer than idle_seconds."""
        cutoff = _iso(_now() - timedelta(seconds=idle_seconds))
        self.tables.execute(
            "DELETE FROM {t} WHERE last_seen < ?", (cutoff,), t=SESSIONS
        )

    # Forms kept across a sign-in

    def keep_form(self, name: str, path: str, fields: dict[str, str]) -> str:
        """Keeps a form the person sent when their session had ended (or from
        a page of an earlier session), for them to send again; returns the
        token that finds it. Forms kept longer than KEPT_FOR are forgotten."""
        token = secrets.token_urlsafe(16)
        now = _now()
        self.tables.execute(  # the old ones, and all but this person's newest
            "DELETE FROM {t} WHERE created_at < ? OR token_hash IN (SELECT "
            "token_hash FROM {t} WHERE name = ? ORDER BY created_at DESC "
            f"LIMIT 1000000 OFFSET {KEPT_PER_PERSON - 1})",
            (_iso(now - KEPT_FOR), name),
            t=KEPT_FORMS,
        )
        self.tables.execute(
            "INSERT INTO {t} (token_hash, name, path, fields, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (_token_hash(token), name, path, json.dumps(fields), _iso(now)),
            t=KEPT_FORMS,
        )
        return token

    def take_kept_form(
        self, name: str, token: str
    ) -> tuple[str, dict[str, str]] | None:
        """(path, fields) of a form kept for this person, handed back once
        (then forgotten: going back to its address sends nothing twice; of
        two requests at once, one gets it)."""
        rows = self.tables.returning(
            "DELETE FROM {t} WHERE token_hash = ? AND name = ? "
            "RETURNING path, fields, created_at",
            (_token_hash(token), name),
            t=KEPT_FORMS,
        )
        if (
            not rows
            or _now() - datetime.fromisoformat(rows[0]["created_at"]) > KEPT_FOR
        ):
            return None
        return rows[0]["path"], json.loads(rows[0]["fields"])

    # Helpers

    def _end(self, token_hash: str) -> None:
        self.tables.execute(
            "DELETE FROM {t} WHERE token_hash = ?", (token_hash,), t=SESSIONS
        )

    def _update_and_end_sessions(
        self, text: str, params: tuple[object, ...], name: str
    ) -> None:
        """One transaction: the change, and the end of the person's sessions."""
        d = self.tables.dialect
        with self.tables.cursor(commit=True) as c:
            c.execute(d.sql(text, t=PEOPLE), params)
            c.execute(d.sql("DELETE FROM {t} WHERE name = ?", t=SESSIONS), (name,))

    def _row(self, name: str) -> Any | None:
        rows = self.tables.query(
            "SELECT name, role, password_hash, must_change_password, totp_secret, "
            "totp_last_counter, disabled_at FROM {t} WHERE name = ?",
            (name,),
            t=PEOPLE,
        )
        return rows[0] if rows else None

    def _require(self, name: str) -> None:
        if self._row(name) is None:
            raise PersonNotFound(f"No account is named {name!r}.")


def _iso(moment: datetime) -> str:
    """UTC, microseconds always written, so that the strings sort as the times."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _person(row: Any) -> Person:
    """A person from a row (sqlite3.Row or psycopg's dict row)."""
    return Person(
        name=row["name"],
        role=row["role"],
        must_change_password=bool(row["must_change_password"]),
        totp_enabled=bool(row["totp_secret"]),
        disabled=bool(row["disabled_at"]),
    )
