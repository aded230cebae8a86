"""The ``pressfeed`` command: serve | worker | token | user | import | rebuild |
verify | export | backup | restore | migrate | demo."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
from pathlib import Path

import click
from tqdm import tqdm

from pressfeed.application import (
    ImportConflict,
    ImportRefused,
    SlugTaken,
)
from pressfeed.assembly import Pressfeed
from pressfeed.checkpoints import Checkpoint
from pressfeed.config import (
    INSTANCE_ENV,
    Settings,
    instance_env,
    keep_instance_env,
    sqlite_path,
)
from pressfeed.import_file import BadLine, CheckFailed, read_statements
from pressfeed.logs import escape_in_handlers
from pressfeed.people import (
    PERSON_ROLES,
    PeopleRegistry,
    PersonNameTaken,
    PersonNotFound,
)
from pressfeed.storage import schema_exists
from pressfeed.tokens import ROLES, TokenNameTaken, TokenRegistry


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """pressfeed: the publishing backend of a press office."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    escape_in_handlers(logging.getLogger())  # no request writes a line of its own
    try:
        ctx.obj = Settings.from_env()
    except ValueError as error:
        raise click.ClickException(f"Configuration: {error}") from None


def pressfeed_of(settings: Settings) -> Pressfeed:
    """pressfeed on the configured store; its pools close when the command ends."""
    pressfeed = Pressfeed(settings)
    click.get_current_context().call_on_close(pressfeed.close)
    return pressfeed


def existing_store(settings: Settings) -> Pressfeed:
    """pressfeed_of for a command that reads what a store holds: a SQLite file
    that is not there is an error (exit 1), not a new empty store to report
    on, which would say a verify was ok or back up nothing."""
    require_store(settings)
    return pressfeed_of(settings)


def require_store(settings: Settings) -> None:
    if settings.uses_postgres:
        env = settings.eventsourcing_env()
        if not schema_exists(env):
            raise click.ClickException(
                f"No store: the schema {env['POSTGRES_SCHEMA']!r} is not in the "
                f"database {env['POSTGRES_DBNAME']!r}. Give the command the "
                "server's PRESSFEED_DATABASE_URL."
            )
        return
    path = sqlite_path(settings.database_url)
    if not path.is_file():
        raise click.ClickException(
            f"No store at {path}. Run the command where the server runs (its "
            "instance folder), or give it the server's PRESSFEED_INSTANCE_DIR or "
            "PRESSFEED_DATABASE_URL."
        )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.pass_obj
def serve(settings: Settings, host: str, port: int, threads: int) -> None:
    """Web, projections and scheduler in one process (the embedded default).
    Unless PRESSFEED_BASE_URL is set, links say http://HOST:PORT."""
    from pressfeed.server import serve as run_server

    if port_in_use(host, port):
        raise click.ClickException(
            f"{host}:{port} is already in use (another pressfeed serve, or another "
            f"program). Pick another port: pressfeed serve --port {port + 1}, or "
            f"make run PORT={port + 1}."
        )
    settings = settings.served_at(host, port)
    served = f"http://{host}:{port}"
    links = "" if settings.base_url == served else f", links say {settings.base_url}"
    open_views_before_serving(settings)
    click.echo(f"pressfeed serving on {served}  (store: {store(settings)}{links})")
    run_server(settings, host, port, threads)


def open_views_before_serving(settings: Settings) -> None:
    """Opens the views here, so that views of an older layout are rebuilt
    before gunicorn starts its worker (which it kills if booting takes longer
    than its timeout)."""
    pressfeed = Pressfeed(settings)
    try:
        if not pressfeed.views.layout_is_current():
            raise click.ClickException("The views could not be rebuilt.")
    finally:
        pressfeed.close()


def port_in_use(host: str, port: int) -> bool:
    """Whether another socket listens on host:port. Binds as gunicorn will
    (SO_REUSEADDR), so a port left in TIME_WAIT is not taken for in use; any
    other failure is left for the server to report."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


@main.command()
@click.pass_obj
def worker(settings: Settings) -> None:
    """Projections and the embargo scheduler, beside web processes."""
    pressfeed = pressfeed_of(settings)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    pressfeed.start_background()
    click.echo(f"pressfeed worker following the log (store: {store(settings)})")
    stopping.wait()
    pressfeed.stop_background()


@main.group()
def token() -> None:
    """Bearer tokens for publishers and auditors."""


@token.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", required=True, help="Who acts with it, e.g. press-office.")
@click.pass_obj
def token_create(settings: Settings, role: str, name: str) -> None:
    """Creates a token; prints it alone on the last line (it is not stored)."""
    try:
        new_token = pressfeed_of(settings).tokens.create(name, role)
    except TokenNameTaken as error:
        raise click.ClickException(str(error)) from None
    article = "an" if role[0] in "aeiou" else "a"
    click.echo(f"Created {article} {role} token named {name!r}:")
    click.echo(new_token)


@token.command("list")
@click.pass_obj
def token_list(settings: Settings) -> None:
    """Lists tokens by name and role (the secrets are not stored)."""
    for entry in existing_store(settings).tokens.list():
        state = f"revoked {entry['revoked_at']}" if entry["revoked_at"] else "active"
        click.echo(
            f"{entry['name']}\t{entry['role']}\tcreated {entry['created_at']}\t{state}"
        )


@token.command("revoke")
@click.argument("name")
@click.pass_obj
def token_revoke(settings: Settings, name: str) -> None:
    """Revokes the active token NAME: refused at once by every process."""
    if not existing_store(settings).tokens.revoke(name):
        raise click.ClickException(f"No active token is named {name!r}.")
    click.echo(f"Revoked the token named {name!r}.")


@main.group()
def keys() -> None:
    """The key that signs the log's checkpoints."""


@keys.command("create")
@click.option("--name", help="The key's name in signatures (default: the origin).")
@click.pass_obj
def keys_create(settings: Settings, name: str | None) -> None:
    """Writes a new Ed25519 signing key (mode 0600) to PRESSFEED_SIGNING_KEY or
    the instance folder; prints the verifier key alone on the last line."""
    from pressfeed.checkpoints import NoteError, SigningKey, write_signing_key

    path = settings.signing_key_path
    try:
        key = SigningKey.generate(name or settings.origin)
        write_signing_key(path, key)
    except FileExistsError:
        raise click.ClickException(
            f"{path} exists: a log keeps its key (witnesses know it)."
        ) from None
    except NoteError as error:
        raise click.ClickException(f"{error}; choose one with --name.") from None
    click.echo(f"Wrote the signing key to {path}; keep it secret and backed up.")
    click.echo("The verifier key, for witnesses (also at /audit/key):")
    click.echo(key.verifier.text())


@main.group()
def receipt() -> None:
    """Statement receipts (/statements/<slug>/receipt), for those who keep them."""


@receipt.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "verifier", required=True, help="The log's verifier key.")
@click.option(
    "--against",
    metavar="BASE_URL",
    help="Also check that the log this press office serves now still holds it.",
)
def receipt_check(file: Path, verifier: str, against: str | None) -> None:
    """Checks a kept receipt: the checkpoint's signature, the inclusion proof of
    the statement's leaf, and with --against that the live log extends that
    checkpoint; exit 1 if anything fails. Needs no store."""
    from pressfeed.checkpoints import NoteError, VerifierKey
    from pressfeed.witness import WitnessFailure, check_receipt

    try:
        kept = json.loads(file.read_text(encoding="utf-8"))
        click.echo(check_receipt(kept, VerifierKey.parse(verifier), against))
    except (ValueError, NoteError, WitnessFailure) as error:
        click.echo(f"pressfeed receipt check: {error}", err=True)
        sys.exit(1)
    except OSError as error:
        click.echo(
            f"pressfeed receipt check: {against} did not answer: {error}", err=True
        )
        sys.exit(2)


@main.group()
def user() -> None:
    """Accounts of the people who sign in to the desk."""


@user.command("create")
@click.option("--name", required=True, help="Who signs in, e.g. anna.keller.")
@click.option("--role", type=click.Choice(PERSON_ROLES), required=True)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from one line of standard input.",
)
@click.pass_obj
def user_create(settings: Settings, name: str, role: str, password_stdin: bool) -> None:
    """Creates an account. Without --password-stdin, prints a one-time password
    alone on the last line; it must be changed at the first sign-in."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    try:
        one_time = pressfeed_of(settings).people.create(name, role, password)
    except (PersonNameTaken, ValueError) as error:
        raise click.ClickException(str(error)) from None
    article = "an" if role[0] in "aeiou" else "a"
    click.echo(f"Created {article} {role} account named {name!r}.")
    if one_time is not None:
        click.echo("Its one-time password, to be changed at the first sign-in:")
        click.echo(one_time)


@user.command("list")
@click.pass_obj
def user_list(settings: Settings) -> None:
    """Lists accounts: name, role and state (never a password)."""
    for person in existing_store(settings).people.list():
        state = ["disabled" if person.disabled else "active"]
        if person.must_change_password and not person.disabled:
            state.append("one-time password")
        if person.totp_enabled:
            state.append("TOTP")
        click.echo(f"{person.name}\t{person.role}\t{', '.join(state)}")


@user.command("disable")
@click.argument("name")
@click.pass_obj
def user_disable(settings: Settings, name: str) -> None:
    """Disables the account NAME and ends its sessions at once."""
    try:
        existing_store(settings).people.disable(name)
    except PersonNotFound as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Disabled the account named {name!r}; its sessions have ended.")


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(PERSON_ROLES))
@click.pass_obj
def user_role(settings: Settings, name: str, role: str) -> None:
    """Gives the account NAME the role ROLE and ends its sessions."""
    try:
        existing_store(settings).people.set_role(name, role)
    except PersonNotFound as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{name!r} is now {role}; its sessions have ended.")


@user.command("totp")
@click.argument("name")
@click.pass_obj
def user_totp(settings: Settings, name: str) -> None:
    """Turns on the TOTP second factor of NAME (a new secret, replacing any
    earlier one); prints the provisioning URI alone on the last line."""
    try:
        issuer = settings.site_title.replace(":", "")  # a colon ends the issuer
        uri = existing_store(settings).people.enable_totp(name, issuer)
    except PersonNotFound as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Add this to {name}'s authenticator app (a QR code of it, or by hand):")
    click.echo(uri)


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", default="import", show_default=True)
@click.pass_obj
def import_command(settings: Settings, file: Path, actor: str) -> None:
    """Imports statements from JSON lines: a bad line or a taken slug imports
    nothing; the rest is saved 1,000 statements per transaction. Run again after
    an interruption, it saves only the lines not saved yet."""
    try:
        numbered = read_statements(file, settings.kinds, settings.default_language)
    except BadLine as bad:
        raise click.ClickException(
            f"{file}:{bad.number}: {bad.problem}. Nothing was imported."
        ) from None
    except CheckFailed as failed:
        raise click.ClickException(f"{failed} Nothing was imported.") from None
    except KeyboardInterrupt:
        raise click.ClickException(
            "Interrupted while checking the lines. Nothing was imported."
        ) from None
    statements = [statement for _, statement in numbered]
    pressfeed = pressfeed_of(settings)
    app = pressfeed.press_office
    with tqdm(total=len(statements), unit="statement", file=sys.stderr) as bar:
        try:
            saved = app.import_statements(statements, actor=actor, progress=bar.update)
        except SlugTaken as error:
            raise click.ClickException(f"{error} Nothing was imported.") from None
        except ImportRefused as refused:
            number = numbered[refused.index][0]
            raise click.ClickException(
                f"{file}:{number}: {refused.error} Nothing was imported."
            ) from None
        except ImportConflict as error:
            raise click.ClickException(str(error)) from None
        except KeyboardInterrupt:
            raise click.ClickException(
                f"Interrupted: {app.saved_of_import(statements)} of "
                f"{len(statements)} statements are saved. "
                "Run the same import again to save the rest."
            ) from None
    pressfeed.ledger.vacuum()
    message = f"Imported {len(saved)} statements."
    if before := len(statements) - len(saved):
        message += f" {before} lines were imported before."
    click.echo(message)


@main.command()
@click.pass_obj
def rebuild(settings: Settings) -> None:
    """Replays the whole log into new views beside the live ones, which keep
    serving, then swaps them in."""
    pressfeed = existing_store(settings)
    # Counted, not the newest position: positions have gaps on PostgreSQL.
    total = pressfeed.ledger.size()
    with tqdm(total=total, unit="event", file=sys.stderr) as bar:
        replayed = pressfeed.rebuild_views(progress=bar.update)
    click.echo(f"Rebuilt the views from {replayed} events.")


@main.command()
@click.argument("base_url")
@click.option("--key", "verifier", required=True, help="The log's verifier key.")
@click.option(
    "--state",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the last checkpoint seen is kept.",
)
def witness(base_url: str, verifier: str, state: Path) -> None:
    """Fetches BASE_URL's signed checkpoint, checks it extends the last one kept
    in --state (a consistency proof), and keeps it; exit 1 if the log forked,
    shrank or was rewritten."""
    from pressfeed.checkpoints import NoteError, VerifierKey
    from pressfeed.witness import WitnessFailure
    from pressfeed.witness import witness as run_witness

    try:
        click.echo(run_witness(base_url, VerifierKey.parse(verifier), state))
    except (NoteError, WitnessFailure) as error:
        click.echo(f"pressfeed witness: {error}", err=True)
        sys.exit(1)
    except OSError as error:
        click.echo(f"pressfeed witness: {base_url} did not answer: {error}", err=True)
        sys.exit(2)


@main.command()
@click.option(
    "--head",
    "witnessed",
    nargs=2,
    type=(int, str),
    help="A head saved earlier (POSITION HASH): check the log still has it.",
)
@click.option(
    "--checkpoint",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A signed checkpoint saved earlier: check the log still has its root.",
)
@click.option(
    "--key",
    "verifier",
    help="The verifier key of --checkpoint (default: this log's signing key's).",
)
@click.option(
    "--views",
    "check_views",
    is_flag=True,
    help="Also replay the log into scratch views and compare every view row.",
)
@click.pass_obj
def verify(
    settings: Settings,
    witnessed: tuple[int, str] | None,
    checkpoint: Path | None,
    verifier: str | None,
    check_views: bool,
) -> None:
    """Checks the hash chain over the stored events, and the Merkle tree against
    it; exit code 1 if broken. With --views, also every view row against a
    replay of the log."""
    if witnessed:
        witnessed = witnessed[0], head_hash(witnessed[0], witnessed[1])
    pressfeed = existing_store(settings)
    saved = read_checkpoint(pressfeed, checkpoint, verifier) if checkpoint else None
    verification = pressfeed.ledger.verify(
        hash_at=witnessed[0] if witnessed else None,
        root_at=saved.size if saved else None,
    )
    report = verification.as_dict()
    if witnessed:
        report["head_matches"] = verification.hash_at == witnessed[1]
    if saved:
        report["checkpoint_matches"] = verification.root_at == saved.root
    click.echo(json.dumps(report))
    if verification.first_bad is not None:
        click.echo(f"The log is broken at position {report['first_bad']}.", err=True)
        sys.exit(1)
    if verification.first_bad_node is not None:
        level, index = verification.first_bad_node
        click.echo(
            f"The Merkle tree's node at level {level}, index {index} is not the "
            "one the chain makes: checkpoints, proofs and receipts read from the "
            "tree would not match the log.",
            err=True,
        )
        sys.exit(1)
    if witnessed and not report["head_matches"]:
        position = witnessed[0]
        if verification.hash_at is None:  # the log, which checks out, has no such event
            click.echo(
                f"The log no longer reaches position {position}, or reaches it "
                "without that hash.",
                err=True,
            )
        else:
            click.echo(
                f"The log no longer has that hash at position {position}.", err=True
            )
        sys.exit(1)
    if saved and not report["checkpoint_matches"]:
        if saved.size > verification.events_checked:
            click.echo(
                f"The log no longer has the {saved.size} events of that checkpoint "
                f"(it holds {verification.events_checked}).",
                err=True,
            )
        else:
            click.echo(
                f"The log's first {saved.size} events no longer have that root.",
                err=True,
            )
        sys.exit(1)
    if check_views:
        verify_views(pressfeed)


HEX_HASH = re.compile(r"[0-9a-fA-F]{64}")


def head_hash(position: int, text: str) -> str:
    """A saved head's hash in the spelling the chain keeps (lower case), or a
    usage error for a position or a hash no head can have."""
    if position < 1:
        raise click.BadParameter(
            f"position {position}: the log's positions start at 1.", param_hint="--head"
        )
    if not HEX_HASH.fullmatch(text):
        raise click.BadParameter(
            "the hash is 64 hexadecimal digits (SHA-256), as /audit/head gives it.",
            param_hint="--head",
        )
    return text.lower()


def verify_views(pressfeed: Pressfeed) -> None:
    """Prints each view row that differs from a replay of the log; exit 1 if any."""
    from pressfeed.projections.check import ViewsMoved, check_views

    try:
        outcome = check_views(
            pressfeed.settings,
            pressfeed.press_office,
            pressfeed.views,
            lambda difference: click.echo(difference.line()),
        )
    except ViewsMoved as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        json.dumps(
            {
                "views_ok": outcome.ok,
                "views_position": outcome.position,
                "rows_compared": outcome.rows,
                "differences": outcome.differences,
            }
        )
    )
    if not outcome.ok:
        click.echo(
            f"{outcome.differences} differences between the views and a replay of the log up to "
            f"position {outcome.position}.",
            err=True,
        )
        sys.exit(1)


def read_checkpoint(
    pressfeed: Pressfeed, path: Path, verifier: str | None
) -> Checkpoint:
    """A saved checkpoint, its signature checked with the key given, else with
    this log's own signing key."""
    from pressfeed.checkpoints import (
        NoSigningKey,
        NoteError,
        VerifierKey,
        parse_checkpoint,
    )

    try:
        key = (
            VerifierKey.parse(verifier)
            if verifier
            else pressfeed.checkpoints.key().verifier
        )
        return parse_checkpoint(path.read_text(), key)
    except NoSigningKey:
        raise click.ClickException(
            f"{path}: this store has no signing key to check it with; give the "
            "verifier key of the log that signed it: --key NAME+HASH+KEY"
        ) from None
    except NoteError as error:
        raise click.ClickException(f"{path}: {error}") from None


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--after", default=0, show_default=True, help="Start after this position."
)
@click.pass_obj
def export(settings: Settings, file: Path, after: int) -> None:
    """Writes the whole event log to FILE as NDJSON (as /audit/log serves it, plus
    each event's stored topic and state, for `pressfeed restore`)."""
    trail = existing_store(settings).audit
    count = 0
    with file.open("w", encoding="utf-8") as out:
        for record in trail.log(after=after, stored=True):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    click.echo(f"Exported {count} events to {file}.")


@main.command()
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def backup(settings: Settings, dest: Path) -> None:
    """Copies the running SQLite store to DEST (SQLite's online backup API),
    verifies the copy, and prints its position, hash, root and size."""
    from pressfeed.backups import BackupRefused
    from pressfeed.backups import backup as make_backup

    require_store(settings)
    try:
        report = make_backup(settings, dest)
    except BackupRefused as error:
        click.echo(f"pressfeed backup: {error}", err=True)
        sys.exit(1)
    click.echo(json.dumps(report.as_dict()))
    head = report.head
    click.echo(
        f"Backed up {head.events} events to {dest} ({report.bytes} bytes), "
        f"verified up to position {head.position}, hash {head.hash}.",
        err=True,
    )


@main.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def restore(settings: Settings, source: Path) -> None:
    """Restores a backup (or an export) into the configured store, which must be
    empty; checks the whole source first, then rebuilds the views."""
    from pressfeed.backups import BackupRefused
    from pressfeed.backups import restore as run_restore

    target = pressfeed_of(settings)
    with tqdm(unit="event", file=sys.stderr, delay=0.5) as bar:  # none for a refusal
        try:
            report = run_restore(source, target, progress=bar.update)
        except BackupRefused as error:
            click.echo(f"pressfeed restore: {source}: {error}", err=True)
            sys.exit(1)
    click.echo(json.dumps(report.as_dict()))
    click.echo(
        f"Restored {report.copied} events up to position {report.head.position}, "
        f"hash {report.head.hash}; the views were rebuilt.",
        err=True,
    )


@main.command()
@click.option(
    "--to",
    "target_url",
    required=True,
    help="The new store: postgresql://...?schema=NAME or sqlite:////path.db",
)
@click.pass_obj
def migrate(settings: Settings, target_url: str) -> None:
    """Copies the whole log, accounts and tokens to another store, in batches;
    run again after an interruption, it continues where it stopped."""
    from pressfeed.backups import BackupRefused, at_url
    from pressfeed.backups import migrate as run_migrate

    require_store(settings)
    try:
        target_settings = at_url(settings, target_url)
        target_settings.eventsourcing_env()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    source = existing_store(settings)
    target = pressfeed_of(target_settings)
    total, done = source.ledger.size(), target.ledger.size()
    with tqdm(total=total, initial=done, unit="event", file=sys.stderr) as bar:
        try:
            report = run_migrate(source, target, progress=bar.update)
        except BackupRefused as error:
            click.echo(f"pressfeed migrate: {error}", err=True)
            sys.exit(1)
    click.echo(json.dumps(report.as_dict()))
    click.echo(
        f"Migrated {report.head.events} events ({report.copied} in this run) to "
        f"{store(target_settings)}; both logs end at position "
        f"{report.head.position}, hash {report.head.hash}.",
        err=True,
    )


@main.command()
@click.option("--if-empty", is_flag=True, help="Do nothing if the store has events.")
@click.pass_obj
def demo(settings: Settings, if_empty: bool) -> None:
    """Loads the sample press office, with a key to sign its checkpoints, and
    prints a publisher token and a desk account. The look it is served with
    (the PRESSFEED_* variables of DEMO_LOOK set here, as make run sets them)
    is kept in the instance folder's pressfeed.env, for every later command."""
    from pressfeed.demo.loader import load_demo

    keep_demo_look(settings)
    pressfeed = pressfeed_of(settings)
    app = pressfeed.press_office
    if if_empty and app.recorder.max_notification_id():
        click.echo("The store already has statements; the demo is not loaded again.")
        click.echo(
            "A publisher token: pressfeed token create --role publisher --name NAME"
        )
        click.echo("A desk account: pressfeed user create --name NAME --role publisher")
        return
    count = load_demo(app)
    verifier = create_demo_signing_key(settings)
    name, new_token = create_demo_token(pressfeed.tokens)
    person, password = create_demo_person(pressfeed.people)
    click.echo(f"Loaded the demo press office: {count} statements.")
    click.echo(f"Site: {settings.base_url}/   API: {settings.base_url}/api/statements")
    if verifier is not None:
        click.echo(f"Checkpoints are signed by {settings.signing_key_path}; its")
        click.echo(f"verifier key, for witnesses (also at /audit/key): {verifier}")
    click.echo(f"A publisher token ({name}), for Authorization: Bearer <token>:")
    click.echo(new_token)
    click.echo(
        f"A desk account ({person}), sign in at {settings.base_url}/desk/login "
        "with the one-time password:"
    )
    click.echo(password)


DEMO_LOOK = (
    "PRESSFEED_SITE_TITLE",
    "PRESSFEED_CONTACT",
    "PRESSFEED_CLOCKS",
    "PRESSFEED_TIMEZONE",
    "PRESSFEED_LANGUAGES",
)


def keep_demo_look(settings: Settings) -> None:
    """Keeps the look of this environment in the instance's pressfeed.env, or
    says where the one kept there differs (commands from another shell read
    the file's)."""
    look = {name: os.environ[name] for name in DEMO_LOOK if name in os.environ}
    path = settings.instance_dir / INSTANCE_ENV
    if not look:
        return
    if keep_instance_env(settings.instance_dir, look):
        click.echo(f"Kept the demo's look in {path}.")
        return
    kept = instance_env(settings.instance_dir)
    differing = sorted(name for name in look if kept.get(name) != look[name])
    if differing:
        click.echo(
            f"{path} keeps other values of {', '.join(differing)} than this "
            "environment's: commands run from another shell read the file's.",
            err=True,
        )


def create_demo_signing_key(settings: Settings) -> str | None:
    """A signing key for the demo's checkpoints, unless one exists (or it
    cannot be made: then the reason is said); its verifier key."""
    from pressfeed.checkpoints import NoteError, SigningKey, write_signing_key

    try:
        key = SigningKey.generate(settings.origin)
        write_signing_key(settings.signing_key_path, key)
    except FileExistsError:
        return None
    except (NoteError, OSError) as error:
        click.echo(
            f"No signing key was made ({error}): "
            "see pressfeed keys create --name NAME.",
            err=True,
        )
        return None
    return key.verifier.text()


def create_demo_token(registry: TokenRegistry) -> tuple[str, str]:
    """A publisher token named demo-publisher (or -2, -3... if taken)."""
    for n in range(1, 100):
        name = "demo-publisher" if n == 1 else f"demo-publisher-{n}"
        try:
            return name, registry.create(name, "publisher")
        except TokenNameTaken:
            continue
    raise click.ClickException("Could not name a demo token.")


def create_demo_person(registry: PeopleRegistry) -> tuple[str, str]:
    """A publisher account named demo-publisher (or -2, -3... if taken), with a
    one-time password."""
    for n in range(1, 100):
        name = "demo-publisher" if n == 1 else f"demo-publisher-{n}"
        try:
            password = registry.create(name, "publisher", None)
        except PersonNameTaken:
            continue
        assert password is not None  # no password given: a one-time one
        return name, password
    raise click.ClickException("Could not name a demo account.")


def store(settings: Settings) -> str:
    return "PostgreSQL" if settings.uses_postgres else settings.database_url


if __name__ == "__main__":
    main()
