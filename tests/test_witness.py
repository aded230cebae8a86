"""A witness outside the press office: `pressfeed witness` against real
servers passes while the log grows, and fails when a copy of the store, with an
old event rewritten and the whole chain and tree made consistent again, is
served under the same key and origin. `pressfeed verify --checkpoint` checks a
saved checkpoint against the local log."""

from __future__ import annotations

import shutil
import sqlite3
import urllib.error
import uuid
from email.message import Message

import pytest
import requests

from pressfeed.checkpoints import VerifierKey
from pressfeed.ledger import GENESIS, chain_hash
from pressfeed.witness import LogDidNotAnswer, WitnessFailure, fetch
from pressfeed.witness import witness as run_witness
from tests.conftest import make_settings
from tests.helpers import Server, create_token, run_cli
from tests.test_checkpoints import create_key

pytestmark = pytest.mark.slow

ENV = {
    "PRESSFEED_LOG_ORIGIN": "press.example/statements",
    "PRESSFEED_CHECKPOINT_SECONDS": "0",
}


def publish(server: Server, token: str, count: int) -> None:
    for i in range(count):
        answer = requests.post(
            f"{server.url}/api/statements",
            json={"title": f"Notice {i}", "body": "Text", "kind": "news"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text


def witness(settings, server: Server, key: str, state) -> tuple[int, str]:
    result = run_cli(
        settings, "witness", server.url, "--key", key, "--state", str(state),
        check=False,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def forge_copy(source, target) -> None:
    """A copy of the store whose first event's title is changed, with the whole chain
    recomputed and the tree dropped (pressfeed rebuilds it on opening)."""
    target.parent.mkdir(parents=True)
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
    db = sqlite3.connect(target)
    (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = 1").fetchone()
    changed = bytes(state).replace(b"Notice 0", b"Notice 7", 1)
    assert changed != state
    db.execute("UPDATE stored_events SET state = ? WHERE rowid = 1", (changed,))
    prev = GENESIS
    rows = db.execute(
        "SELECT rowid, originator_id, originator_version, topic, state "
        "FROM stored_events ORDER BY rowid"
    ).fetchall()
    db.execute("DELETE FROM pf_chain")
    for position, originator_id, version, topic, data in rows:
        statement = str(uuid.UUID(originator_id))
        link = chain_hash(prev, position, statement, version, topic, data)
        db.execute(
            "INSERT INTO pf_chain VALUES (?, ?, ?, ?, ?)",
            (position, statement, version, link, prev),
        )
        prev = link
    db.execute("DELETE FROM pf_tree")
    db.commit()
    db.close()


def test_the_witness_passes_growth_and_catches_a_rewritten_copy(tmp_path):
    settings = make_settings(tmp_path / "real")
    key = create_key(settings)
    token = create_token(settings)
    state = tmp_path / "witness"
    server = Server(settings, **ENV)
    try:
        publish(server, token, 3)
        assert witness(settings, server, key, state)[0] == 0
        first = (state / "checkpoint").read_text()
        publish(server, token, 2)
        code, output = witness(settings, server, key, state)
        assert code == 0, output
        assert "size 15" in output and "was 9" in output
        saved = tmp_path / "saved.checkpoint"
        saved.write_text(first)
        verified = run_cli(settings, "verify", "--checkpoint", str(saved))
        assert '"checkpoint_matches": true' in verified.stdout

        forged = make_settings(tmp_path / "forged")
        forge_copy(
            settings.instance_dir / "pressfeed.db",
            forged.instance_dir / "pressfeed.db",
        )
        shutil.copy(
            settings.instance_dir / "signing_key", forged.instance_dir / "signing_key"
        )
        assert run_cli(forged, "verify").returncode == 0  # consistent, but rewritten
        caught = run_cli(forged, "verify", "--checkpoint", str(saved), check=False)
        assert caught.returncode == 1
        assert '"checkpoint_matches": false' in caught.stdout
        fake = Server(forged, **ENV)
        try:
            code, output = witness(forged, fake, key, state)
            assert code == 1, output
            assert "rewritten" in output
            assert "stored checkpoint press.example/statements size 15" in output
            assert "served checkpoint press.example/statements size 15" in output
            publish(fake, token, 1)  # grown, yet not an extension of what was seen
            code, output = witness(forged, fake, key, state)
            assert code == 1, output
            assert "forked or was rewritten" in output
        finally:
            fake.stop()
        code, output = witness(settings, server, key, state)
        assert code == 0, output  # the real log still extends what was kept
    finally:
        server.stop()


NO_PROOFS = [
    b"<html>busy</html>",
    b'{"hashes": ["zz"]}',
    b"{}",
    b"[]",
    b'{"hashes": 5}',
]


def test_a_log_that_answers_no_consistency_proof_is_caught_and_its_checkpoint_kept(
    tmp_path,
):
    """A log serving a grown, signed checkpoint must prove that it extends the
    one kept: an answer that is no proof is a failure, with the served
    checkpoint kept as evidence; no answer at all (an HTTP error) is no
    verdict, but the served checkpoint is kept too, and the state is not moved."""
    settings = make_settings(tmp_path / "real")
    verifier = VerifierKey.parse(create_key(settings))
    server = Server(settings, **ENV)
    state = tmp_path / "witness"
    token = create_token(settings)
    try:
        publish(server, token, 2)
        run_witness(server.url, verifier, state)
        kept = (state / "checkpoint").read_text()
        publish(server, token, 1)
        for answer in NO_PROOFS:

            def refusing(url: str, answer: bytes = answer) -> bytes:
                return answer if "/proof/consistency" in url else fetch(url)

            with pytest.raises(WitnessFailure, match="answered with no consistency"):
                run_witness(server.url, verifier, state, get=refusing)

        def failing(url: str) -> bytes:
            if "/proof/consistency" in url:
                raise urllib.error.HTTPError(url, 503, "Busy", Message(), None)
            return fetch(url)

        with pytest.raises(LogDidNotAnswer, match="503"):
            run_witness(server.url, verifier, state, get=failing)
        assert len(list(state.glob("conflict-*.checkpoint"))) >= 1
        assert len(list(state.glob("unproven-*.checkpoint"))) == 1
        assert (state / "checkpoint").read_text() == kept  # no verdict moved it
        assert run_witness(server.url, verifier, state).startswith("ok:")
    finally:
        server.stop()
