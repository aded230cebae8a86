"""Signed checkpoints: C2SP tlog-checkpoint notes whose Ed25519 signature is
checked here with `cryptography` straight from the note's bytes, the key made by
`pressfeed keys create`."""

from __future__ import annotations

import base64
import hashlib
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pressfeed.application import NewStatement
from pressfeed.assembly import Pressfeed
from pressfeed.web import create_app
from tests.conftest import make_settings
from tests.helpers import run_cli
from tests.test_transparency import mth


def create_key(settings) -> str:
    result = run_cli(settings, "keys", "create")
    return result.stdout.strip().splitlines()[-1]


def add_events(pressfeed: Pressfeed, count: int) -> None:
    for i in range(count):
        pressfeed.press_office.create_statement(
            NewStatement(title=f"S {i}", body="Body", kind="news"), actor="po"
        )


def check_note(note: bytes, verifier_key: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint note, after checking its signature
    by hand: signed-note's key hash and Ed25519 over the text's bytes."""
    name, key_hash_hex, key = verifier_key.split("+", 2)  # base64 may hold "+"
    key_bytes = base64.b64decode(key)
    assert key_bytes[0] == 1 and len(key_bytes) == 33  # Ed25519
    public = key_bytes[1:]
    expected_hash = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    assert key_hash_hex == expected_hash.hex()
    text, _, signatures = note.partition(b"\n\n")
    text += b"\n"
    (line,) = signatures.decode().splitlines()
    dash, signer, signature = line.split(" ")
    assert (dash, signer) == ("\u2014", name)
    raw = base64.b64decode(signature)
    assert raw[:4] == expected_hash
    Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], text)  # raises if bad
    origin, size, root, end = text.decode().split("\n")
    assert end == ""
    return origin, int(size), base64.b64decode(root)


def test_keys_create_writes_a_private_key_once(sqlite_settings):
    verifier = create_key(sqlite_settings)
    # named after the default origin: PRESSFEED_BASE_URL's host and /statements
    assert verifier.startswith("localhost/statements+")
    path = sqlite_settings.instance_dir / "signing_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("PRIVATE+KEY+localhost/statements+")
    again = run_cli(sqlite_settings, "keys", "create", check=False)
    assert again.returncode == 1 and "exists" in again.stderr


def test_keys_go_where_pressfeed_signing_key_says(tmp_path):
    where = tmp_path / "keys" / "log.key"
    settings = make_settings(tmp_path)
    result = run_cli_with(settings, PRESSFEED_SIGNING_KEY=str(where))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(where.stat().st_mode) == 0o600


def run_cli_with(settings, **env):
    import subprocess

    from tests.helpers import PRESSFEED, env_for

    return subprocess.run(
        [PRESSFEED, "keys", "create", "--name", "press.example/log"],
        env={**env_for(settings), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_checkpoint_is_signed_and_names_the_tree(settings, tmp_path):
    settings = make_settings(
        tmp_path,
        settings.database_url if settings.uses_postgres else None,
        PRESSFEED_CHECKPOINT_SECONDS="0",
    )
    verifier = create_key(settings)
    pressfeed = Pressfeed(settings)
    client = create_app(services=pressfeed).test_client()
    add_events(pressfeed, 4)
    answer = client.get("/audit/checkpoint")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    origin, size, root = check_note(answer.data, verifier)
    leaves = [bytes.fromhex(link.hash) for link in pressfeed.ledger.links()]
    assert (origin, size, root) == ("localhost/statements", 12, mth(leaves))
    assert client.get("/audit/key").get_data(as_text=True) == verifier + "\n"
    add_events(pressfeed, 1)
    _, size, root = check_note(client.get("/audit/checkpoint").data, verifier)
    leaves = [bytes.fromhex(link.hash) for link in pressfeed.ledger.links()]
    assert (size, root) == (15, mth(leaves))
    pressfeed.close()


def test_a_checkpoint_is_signed_at_most_every_interval(tmp_path):
    settings = make_settings(
        tmp_path,
        PRESSFEED_CHECKPOINT_SECONDS="3600",
        PRESSFEED_LOG_ORIGIN="press.example/valdoria",
    )
    verifier = create_key(settings)
    pressfeed = Pressfeed(settings)
    client = create_app(services=pressfeed).test_client()
    first = client.get("/audit/checkpoint").data
    assert check_note(first, verifier) == (
        "press.example/valdoria",
        0,
        hashlib.sha256(b"").digest(),
    )
    add_events(pressfeed, 2)
    assert client.get("/audit/checkpoint").data == first  # cached
    pressfeed.close()


def test_a_forged_signature_is_refused(sqlite_settings):
    from pressfeed.checkpoints import NoteError, VerifierKey, parse_checkpoint

    verifier = create_key(sqlite_settings)
    pressfeed = Pressfeed(sqlite_settings)
    note = pressfeed.checkpoints.latest()
    key = VerifierKey.parse(verifier)
    assert parse_checkpoint(note, key).size == 0
    with pytest.raises(NoteError):
        parse_checkpoint(note.replace("\n0\n", "\n1\n", 1), key)
    pressfeed.close()


def test_the_log_keeps_its_keys_name_when_served_at_another_address(tmp_path):
    """make run PORT=5201 after a first run on 5000: the checkpoints, and a
    backup's, still name the log as its key does, which witnesses follow."""
    first = make_settings(tmp_path, PRESSFEED_BASE_URL="http://127.0.0.1:5000")
    verifier = create_key(first)
    moved = make_settings(
        tmp_path,
        PRESSFEED_BASE_URL="http://127.0.0.1:5201",
        PRESSFEED_CHECKPOINT_SECONDS="0",
    )
    pressfeed = Pressfeed(moved)
    add_events(pressfeed, 2)
    note = create_app(services=pressfeed).test_client().get("/audit/checkpoint").data
    pressfeed.close()
    assert check_note(note, verifier)[0] == "127.0.0.1:5000/statements"
    run_cli(moved, "backup", str(tmp_path / "office.db"))
    kept = (tmp_path / "office.db.checkpoint").read_bytes()
    assert check_note(kept, verifier)[0] == "127.0.0.1:5000/statements"


def test_no_web_process_serves_an_older_checkpoint_than_another_served(settings):
    """Two processes of one log (each its own Pressfeed on the store): once one
    signed a larger tree, the other serves that, not the one it signed before,
    which a witness would take for a log that shrank."""
    settings = make_settings(
        settings.instance_dir,
        settings.database_url if settings.uses_postgres else None,
        PRESSFEED_CHECKPOINT_SECONDS="3600",
    )
    verifier = create_key(settings)
    first, second = Pressfeed(settings), Pressfeed(settings)
    one = create_app(services=first).test_client()
    other = create_app(services=second).test_client()
    add_events(first, 1)
    assert check_note(one.get("/audit/checkpoint").data, verifier)[1] == 3
    add_events(first, 1)
    statement = first.press_office.find_statement("s-0-2")
    second.projection_worker().catch_up()
    second.await_views()
    receipt = other.get(f"/statements/{statement.slug}/receipt")  # signs afresh
    assert receipt.status_code == 200, receipt.get_json()
    sizes = [
        check_note(c.get("/audit/checkpoint").data, verifier)[1] for c in (one, other)
    ]
    assert sizes == [6, 6]
    first.close(), second.close()
