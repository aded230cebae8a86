"""All configuration, read once from environment variables with sane defaults."""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_KINDS = (
    "press-release",
    "news",
    "interview",
    "speech",
    "media-reply",
    "comment",
)


@dataclass(frozen=True)
class Clock:
    """A labelled clock on the front page, e.g. Moscow=Europe/Moscow."""

    label: str
    zone: ZoneInfo


@dataclass(frozen=True)
class Settings:
    database_url: str
    instance_dir: Path
    base_url: str = "http://127.0.0.1:5000"
    base_url_configured: bool = False  # PRESSFEED_BASE_URL set: never derived
    site_title: str = "Press Office"
    contact: str = ""
    front_heading: str = "Press releases and news"  # above the featured statement
    kinds: tuple[str, ...] = DEFAULT_KINDS
    languages: tuple[str, ...] = ("en",)  # the first is the default
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    clocks: tuple[Clock, ...] = (Clock("UTC", ZoneInfo("UTC")),)
    date_format: str = "%d.%m.%Y"
    # Per language: the list's date (strftime) and the front page's (a Babel
    # pattern, or short/medium/long/full), e.g. fr=%d/%m/%Y.
    date_formats: tuple[tuple[str, str], ...] = ()
    long_date_formats: tuple[tuple[str, str], ...] = (("en", "d MMMM y"),)
    max_request_bytes: int = 1024 * 1024
    poll_interval: float = 0.05
    websub_hubs: tuple[str, ...] = ()
    auth_failures_per_minute: int = 20
    proxy_hops: int = 0
    benchmark_endpoints: bool = False
    render_cache_bytes: int = 16 * 1024 * 1024
    secret_key: str = ""  # signs desk cookies; empty: generated into the instance
    session_idle_hours: float = 8.0
    sign_in_failures_per_minute: int = 5  # per account and per client address
    second_pair_of_eyes: bool = False  # publishing needs a second publisher
    log_origin: str = ""  # the checkpoints' origin line; empty: the signing key's name
    signing_key_file: str = ""  # empty: <instance dir>/signing_key
    checkpoint_interval: float = 5.0  # seconds a signed checkpoint is reused

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Reads the PRESSFEED_* variables: those of the environment, then those
        kept in the instance folder's pressfeed.env (see instance_env), when
        the environment is the process's or names the instance folder."""
        env = os.environ if environ is None else environ
        instance_dir = Path(env.get("PRESSFEED_INSTANCE_DIR", "instance")).resolve()
        if environ is None or "PRESSFEED_INSTANCE_DIR" in env:  # not a test's {}
            env = with_instance_env(env, instance_env(instance_dir))
        database_url = env.get(
            "PRESSFEED_DATABASE_URL", f"sqlite:///{instance_dir / 'pressfeed.db'}"
        )
        if not database_url.startswith(("postgresql://", "postgres://", "sqlite:")):
            raise ValueError(
                f"PRESSFEED_DATABASE_URL={database_url!r}: use sqlite:///... or "
                "postgresql://..."
            )
        if not database_url.startswith(("postgresql://", "postgres://")):
            database_url = f"sqlite:///{sqlite_path(database_url)}"  # now absolute
        kinds = tuple(
            k.strip() for k in env.get("PRESSFEED_KINDS", "").split(",") if k.strip()
        )
        return cls(
            database_url=database_url,
            instance_dir=instance_dir,
            base_url=web_address(env.get("PRESSFEED_BASE_URL") or cls.base_url),
            base_url_configured=bool(env.get("PRESSFEED_BASE_URL")),
            site_title=env.get("PRESSFEED_SITE_TITLE", cls.site_title),
            contact=env.get("PRESSFEED_CONTACT", cls.contact).replace("\\n", "\n"),
            front_heading=env.get("PRESSFEED_FRONT_HEADING", cls.front_heading),
            kinds=kinds or DEFAULT_KINDS,
            languages=parse_languages(
                env.get("PRESSFEED_LANGUAGES", "") or env.get("PRESSFEED_LANGUAGE", "")
            ),
            timezone=time_zone(
                "PRESSFEED_TIMEZONE", env.get("PRESSFEED_TIMEZONE", "UTC")
            ),
            clocks=parse_clocks(env.get("PRESSFEED_CLOCKS", "UTC=UTC")),
            date_format=env.get("PRESSFEED_DATE_FORMAT", cls.date_format),
            date_formats=parse_pairs(env.get("PRESSFEED_DATE_FORMATS", "")),
            long_date_formats=(
                parse_pairs(env.get("PRESSFEED_LONG_DATE_FORMATS", ""))
                or cls.long_date_formats
            ),
            max_request_bytes=number(
                env, "PRESSFEED_MAX_REQUEST_BYTES", cls.max_request_bytes, int, least=1
            ),
            poll_interval=number(
                env, "PRESSFEED_POLL_INTERVAL", cls.poll_interval, float, least=0.001
            ),
            auth_failures_per_minute=number(
                env,
                "PRESSFEED_AUTH_FAILURES_PER_MINUTE",
                cls.auth_failures_per_minute,
                int,
                least=1,
            ),
            proxy_hops=number(
                env, "PRESSFEED_PROXY_HOPS", cls.proxy_hops, int, least=0
            ),
            benchmark_endpoints=env.get("PRESSFEED_BENCHMARK", "") == "1",
            render_cache_bytes=int(
                number(env, "PRESSFEED_RENDER_CACHE_MB", 16.0, float, least=0)
                * 1024
                * 1024
            ),
            secret_key=env.get("PRESSFEED_SECRET_KEY", ""),
            session_idle_hours=number(
                env,
                "PRESSFEED_SESSION_IDLE_HOURS",
                cls.session_idle_hours,
                float,
                least=0.01,
            ),
            sign_in_failures_per_minute=number(
                env,
                "PRESSFEED_SIGN_IN_FAILURES_PER_MINUTE",
                cls.sign_in_failures_per_minute,
                int,
                least=1,
            ),
            second_pair_of_eyes=flag(env, "PRESSFEED_SECOND_PAIR_OF_EYES"),
            log_origin=env.get("PRESSFEED_LOG_ORIGIN", ""),
            signing_key_file=env.get("PRESSFEED_SIGNING_KEY", ""),
            checkpoint_interval=number(
                env,
                "PRESSFEED_CHECKPOINT_SECONDS",
                cls.checkpoint_interval,
                float,
                least=0,
            ),
            websub_hubs=tuple(
                hub.strip()
                for hub in env.get("PRESSFEED_WEBSUB_HUBS", "").split(",")
                if hub.strip()
            ),
        )

    def served_at(self, host: str, port: int) -> Settings:
        """These settings for a server on host:port: unless PRESSFEED_BASE_URL
        is set, links say the address served (a wildcard address by this
        machine's name)."""
        if self.base_url_configured:
            return self
        if host in ("", "0.0.0.0", "::"):  # a wildcard: name this machine
            host = socket.gethostname()
        elif ":" in host:
            host = f"[{host}]"  # an IPv6 address in a URL
        return replace(self, base_url=f"http://{host}:{port}")

    @property
    def default_language(self) -> str:
        """The language published at the site's root: the first configured."""
        return self.languages[0]

    def date_format_of(self, language: str) -> str:
        """The list's date format in a language (strftime)."""
        return dict(self.date_formats).get(language, self.date_format)

    def long_date_format_of(self, language: str) -> str:
        """The front page's date format in a language (a Babel pattern)."""
        return dict(self.long_date_formats).get(language, "long")

    @property
    def other_languages(self) -> tuple[str, ...]:
        """The languages published under /<lang>/."""
        return self.languages[1:]

    @property
    def origin(self) -> str:
        """The name a new signing key gets (and so the log's, in its
        checkpoints): PRESSFEED_LOG_ORIGIN, or the base URL's host (and port
        and path, if any) plus /statements."""
        if self.log_origin:
            return self.log_origin
        url = urlsplit(self.base_url)
        return f"{url.netloc}{url.path.rstrip('/')}/statements"

    @property
    def signing_key_path(self) -> Path:
        if self.signing_key_file:
            return Path(self.signing_key_file).resolve()
        return self.instance_dir / "signing_key"

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment eventsourcing's infrastructure factory reads."""
        if self.uses_postgres:
            return postgres_env(self.database_url)
        return sqlite_env(self.database_url)


INSTANCE_ENV = "pressfeed.env"
INSTANCE_ENV_LINE = re.compile(r"(PRESSFEED_[A-Z0-9_]+)=(.*)")
# Names of one setting: the environment setting either overrides the file's both.
ONE_SETTING = (("PRESSFEED_LANGUAGES", "PRESSFEED_LANGUAGE"),)


class InstanceEnvError(ValueError):
    """The instance folder's pressfeed.env cannot be read as settings."""


def instance_env(instance_dir: Path) -> dict[str, str]:
    """The settings kept with an instance, in <instance dir>/pressfeed.env:
    PRESSFEED_NAME=value lines (blank lines and # comments aside; a value in
    matching quotes loses them, as in a systemd EnvironmentFile), so that every
    command run on the instance, from any shell, reads them. No file: none.
    A file others may write is refused: it could name another store or key."""
    path = instance_dir / INSTANCE_ENV
    try:
        if path.stat().st_mode & 0o022:
            raise InstanceEnvError(f"{path}: others may write it; chmod 600 it")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeError) as error:
        raise InstanceEnvError(f"{path}: {error}") from None
    kept = {}
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        setting = INSTANCE_ENV_LINE.fullmatch(line)
        if setting is None or setting[1] == "PRESSFEED_INSTANCE_DIR":
            raise InstanceEnvError(
                f"{path}:{number}: not a PRESSFEED_NAME=value setting "
                "(the instance folder cannot name itself)"
            )
        kept[setting[1]] = _unquoted(setting[2])
    return kept


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def with_instance_env(
    environ: Mapping[str, str], kept: Mapping[str, str]
) -> dict[str, str]:
    """The environment, and the kept settings it does not set (by any name)."""
    unset = dict(kept)
    for names in ONE_SETTING:
        if any(name in environ for name in names):
            for name in names:
                unset.pop(name, None)
    return {**unset, **environ}


def keep_instance_env(instance_dir: Path, settings: Mapping[str, str]) -> bool:
    """Writes settings to <instance dir>/pressfeed.env (0600) unless it exists;
    True if it wrote them. A line break in a value is written as \\n (which
    PRESSFEED_CONTACT reads as one)."""
    instance_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    lines = [
        "# Settings of this instance, read by every pressfeed command run on it;",
        "# the environment's PRESSFEED_* variables win over them.",
        *(f"{name}={_one_line(value)}" for name, value in settings.items()),
    ]
    try:
        fd = os.open(
            instance_dir / INSTANCE_ENV, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600
        )
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
    return True


def _one_line(value: str) -> str:
    return "\\n".join(value.splitlines())


LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


def parse_languages(text: str) -> tuple[str, ...]:
    """Parses 'en,fr,ru' (BCP 47 tags, each once, the first the default);
    nothing given: ('en',)."""
    languages: list[str] = []
    for item in text.split(","):
        tag = item.strip()
        if not tag:
            continue
        if not LANGUAGE_TAG.fullmatch(tag):
            raise ValueError(f"PRESSFEED_LANGUAGES: {tag!r} is not a BCP 47 tag")
        if tag not in languages:
            languages.append(tag)
    return tuple(languages) or ("en",)


Number = TypeVar("Number", int, float)


def number(
    env: Mapping[str, str],
    name: str,
    default: Number,
    kind: Callable[[str], Number],
    *,
    least: float,
) -> Number:
    """A numeric setting, or a ValueError that names it and says what it takes."""
    text = env.get(name, "").strip()
    if not text:
        return default
    whole = "a whole number" if kind is int else "a number"
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not {whole}") from None
    if not value >= least:  # NaN too
        raise ValueError(f"{name}={text!r}: {whole} of at least {least:g}")
    return value


FLAGS = {"1": True, "true": True, "yes": True, "on": True}
FLAGS |= {"": False, "0": False, "false": False, "no": False, "off": False}


def flag(env: Mapping[str, str], name: str) -> bool:
    """A yes-or-no setting: anything else is refused, not read as no (a
    safeguard must not be off because of a spelling)."""
    text = env.get(name, "").strip().lower()
    if text not in FLAGS:
        raise ValueError(f"{name}={text!r}: say true or false (1/0, yes/no, on/off)")
    return FLAGS[text]


def web_address(text: str) -> str:
    """PRESSFEED_BASE_URL: http(s)://host[:port][/path], used in every link."""
    url = urlsplit(text.strip())
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ValueError(
            f"PRESSFEED_BASE_URL={text!r}: an address such as https://press.example.org"
        )
    return text.strip().rstrip("/")


def time_zone(name: str, text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):  # Europe: a folder
        raise ValueError(
            f"{name}: {text!r} is no time zone (use a name such as Europe/Paris)"
        ) from None


def parse_pairs(text: str) -> tuple[tuple[str, str], ...]:
    """Parses 'fr=%d/%m/%Y,ru=%d.%m.%Y' into (language, value) pairs."""
    pairs = []
    for item in text.split(","):
        language, sep, value = item.partition("=")
        if sep and language.strip() and value:
            pairs.append((language.strip(), value))
    return tuple(pairs)


def parse_clocks(text: str) -> tuple[Clock, ...]:
    """Parses 'Moscow=Europe/Moscow,London=Europe/London'."""
    clocks = []
    for item in text.split(","):
        if not item.strip():
            continue
        label, _, zone = item.partition("=")
        zone = zone.strip() or label.strip()
        clocks.append(Clock(label.strip(), time_zone("PRESSFEED_CLOCKS", zone)))
    return tuple(clocks) or (Clock("UTC", ZoneInfo("UTC")),)


def sqlite_path(database_url: str) -> Path:
    """The file of a SQLite URL, read as SQLAlchemy does: ``sqlite:///pf.db`` is
    relative to the working directory, ``sqlite:////srv/pf.db`` absolute."""
    path = database_url.removeprefix("sqlite:///")
    if path == database_url or not path or "?" in path or path == ":memory:":
        raise ValueError(
            f"Unsupported SQLite URL {database_url!r}: use sqlite:///relative.db "
            "or sqlite:////absolute/path.db"
        )
    return Path(path).resolve()


def sqlite_env(database_url: str) -> dict[str, str]:
    path = sqlite_path(database_url)
    create_owner_only(path)
    return {
        "PERSISTENCE_MODULE": "pressfeed.storage:SQLiteStore",
        "APPLICATION_RECORDER_TOPIC": "pressfeed.ledger:ChainedSQLiteApplicationRecorder",
        "SQLITE_DBNAME": str(path),
        "SQLITE_LOCK_TIMEOUT": "10",
    }


def create_owner_only(path: Path) -> None:
    """Creates the SQLite file's folder (0700) and the file (0600) if missing:
    SQLite gives its -wal and -shm files the database file's mode. Existing
    files and folders keep theirs."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists():  # perhaps read-only: opening it for writing would fail
        return
    with contextlib.suppress(FileExistsError):  # another process made it meanwhile
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def postgres_env(database_url: str) -> dict[str, str]:
    """postgresql://user:password@host:port/dbname?schema=name"""
    url = urlsplit(database_url)
    query = parse_qs(url.query)
    if unknown := sorted(set(query) - {"schema", "pool_size", "max_overflow"}):
        raise ValueError(
            f"PRESSFEED_DATABASE_URL: unknown parameter {', '.join(unknown)} "
            "(it takes schema, pool_size and max_overflow)"
        )
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": "pressfeed.ledger:ChainedPostgresApplicationRecorder",
        "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_POOL_SIZE": query.get("pool_size", ["1"])[0],
        "POSTGRES_MAX_OVERFLOW": query.get("max_overflow", ["9"])[0],
        # Each connection is checked as it leaves the pool, and a dead one (a
        # restarted server, pg_terminate_backend, a dropped TCP connection) is
        # replaced rather than handed to a request.
        "POSTGRES_PRE_PING": "y",
    }
    if "schema" in query:
        env["POSTGRES_SCHEMA"] = query["schema"][0]
    return env
