"""Statement receipts: /statements/<slug>/receipt is one JSON document (the
current version's leaf, the signed checkpoint, the inclusion proof) that a
journalist keeps; it is checked here with RFC 9162's verification algorithm
(2.1.3.2) written from the RFC and the checkpoint's Ed25519 signature with
`cryptography`, not with the project's code. The statement page links to it
without changing when the log grows; the API document names the leaf."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
import requests

from pressfeed.application import NewStatement
from pressfeed.assembly import Pressfeed
from pressfeed.web import create_app
from tests.conftest import make_settings
from tests.helpers import Server, create_token, run_cli
from tests.test_checkpoints import check_note, create_key


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: list[bytes]
) -> bytes | None:
    """RFC 9162 2.1.3.2, step by step; None where the RFC says the proof fails."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def office(settings, tmp_path, *, key: bool = True) -> tuple[Pressfeed, str | None]:
    settings = make_settings(
        tmp_path,
        settings.database_url if settings.uses_postgres else None,
        PRESSFEED_CHECKPOINT_SECONDS="3600",  # receipts must not wait for it
    )
    verifier = create_key(settings) if key else None
    return Pressfeed(settings), verifier


def publish_some(pressfeed: Pressfeed, count: int) -> list:
    app, statements = pressfeed.press_office, []
    for i in range(count):
        statement = app.create_statement(
            NewStatement(title=f"Statement {i}", body=f"Body {i}", kind="news"),
            actor="po",
        ).statement
        if i % 2:
            statement = app.amend(
                statement.id,
                expected_version=statement.version,
                changes={"body": f"Amended {i}"},
                change_note="Corrected",
                minor=False,
                actor="po",
            ).statement
        statements.append(statement)
    pressfeed.projection_worker().catch_up()
    return statements


def check_receipt(receipt: dict, verifier: str) -> None:
    """What a journalist's tool does with a kept receipt and the verifier key."""
    origin, size, root = check_note(receipt["checkpoint"].encode(), verifier)
    assert origin == "localhost/statements"
    assert receipt["tree_size"] == size and receipt["root_hash"] == root.hex()
    leaf = bytes.fromhex(receipt["leaf"])
    leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()
    assert receipt["leaf_hash"] == leaf_hash.hex()
    proof = [bytes.fromhex(h) for h in receipt["inclusion_proof"]]
    assert (
        root_from_inclusion_proof(receipt["leaf_index"], size, leaf_hash, proof) == root
    )


def test_a_receipt_proves_the_current_version_against_the_signed_checkpoint(
    settings, tmp_path
):
    pressfeed, verifier = office(settings, tmp_path)
    statements = publish_some(pressfeed, 9)
    client = create_app(services=pressfeed).test_client()
    for statement in (statements[0], statements[5], statements[-1]):
        answer = client.get(f"/statements/{statement.slug}/receipt")
        assert answer.status_code == 200
        assert answer.mimetype == "application/json"
        assert (
            f"{statement.slug}-v{statement.version}-receipt.json"
            in (answer.headers["Content-Disposition"])
        )
        receipt = answer.get_json()
        assert receipt["format"] == "pressfeed-receipt/1"
        assert receipt["statement"]["id"] == str(statement.id)
        assert receipt["statement"]["version"] == statement.version
        assert receipt["verifier_key"] == verifier
        # The leaf is the chain hash of the statement's last event.
        last = pressfeed.ledger.links_of(statement.id)[-1]
        assert (last.version, last.hash) == (statement.version, receipt["leaf"])
        leaves = client.get(f"/audit/leaves?start={receipt['leaf_index']}&limit=1")
        assert leaves.get_json()[0]["hash"] == receipt["leaf"]
        check_receipt(receipt, verifier)
        # The proof the receipt holds is the public route's.
        proof = client.get(receipt["proof_url"].removeprefix("http://localhost"))
        assert proof.get_json()["hashes"] == receipt["inclusion_proof"]
    pressfeed.close()


def test_the_newest_event_gets_a_receipt_at_once(settings, tmp_path):
    """The checkpoint is signed at most every hour here, yet a statement
    published after it was signed gets a checkpoint that holds it."""
    pressfeed, verifier = office(settings, tmp_path)
    publish_some(pressfeed, 2)
    client = create_app(services=pressfeed).test_client()
    _, signed_size, _ = check_note(client.get("/audit/checkpoint").data, verifier)
    (late,) = publish_some(pressfeed, 1)
    receipt = client.get(f"/statements/{late.slug}/receipt").get_json()
    assert signed_size <= receipt["leaf_index"] < receipt["tree_size"]
    check_receipt(receipt, verifier)
    pressfeed.close()


def test_the_page_links_the_receipt_and_stays_the_same_as_the_log_grows(
    settings, tmp_path
):
    pressfeed, verifier = office(settings, tmp_path)
    statement = publish_some(pressfeed, 1)[0]
    client = create_app(services=pressfeed).test_client()
    page = client.get(f"/statements/{statement.slug}")
    html = page.get_data(as_text=True)
    assert f'href="/statements/{statement.slug}/receipt"' in html
    assert "Proof of publication" in html
    first = client.get(f"/statements/{statement.slug}/receipt").get_json()
    publish_some(pressfeed, 3)  # other statements: the tree grows
    again = client.get(f"/statements/{statement.slug}")
    assert again.get_data() == page.get_data()
    assert again.headers["ETag"] == page.headers["ETag"]
    assert again.headers["Last-Modified"] == page.headers["Last-Modified"]
    later = client.get(f"/statements/{statement.slug}/receipt").get_json()
    assert later["leaf_index"] == first["leaf_index"]
    assert later["tree_size"] >= first["tree_size"]
    check_receipt(later, verifier)
    pressfeed.close()


def test_the_api_document_names_the_leaf_and_the_receipt(settings, tmp_path):
    pressfeed, _ = office(settings, tmp_path)
    published = publish_some(pressfeed, 2)[1]
    draft = pressfeed.press_office.create_statement(
        NewStatement(title="Draft", body="Not yet", kind="news", draft=True),
        actor="po",
    ).statement
    pressfeed.projection_worker().catch_up()
    token = pressfeed.tokens.create("po", "publisher")
    client = create_app(services=pressfeed).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    document = client.get(f"/api/statements/{published.id}", headers=headers)
    reference = document.get_json()["receipt"]
    receipt = client.get(f"/statements/{published.slug}/receipt").get_json()
    assert reference == {
        "version": published.version,
        "leaf_index": receipt["leaf_index"],
        "leaf": receipt["leaf"],
        "leaf_hash": receipt["leaf_hash"],
        "url": f"http://localhost/statements/{published.slug}/receipt",
        "checkpoint_url": "http://localhost/audit/checkpoint",
        "key_url": "http://localhost/audit/key",
    }
    unpublished = client.get(f"/api/statements/{draft.id}", headers=headers)
    assert unpublished.get_json()["receipt"]["url"] is None
    assert unpublished.get_json()["receipt"]["leaf_index"] > receipt["leaf_index"]
    missing = client.get(f"/statements/{draft.slug}/receipt")
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"
    pressfeed.close()


def test_without_a_signing_key_the_page_says_so(settings, tmp_path):
    pressfeed, _ = office(settings, tmp_path, key=False)
    statement = publish_some(pressfeed, 1)[0]
    client = create_app(services=pressfeed).test_client()
    html = client.get(f"/statements/{statement.slug}").get_data(as_text=True)
    assert "/receipt" not in html
    assert "signs no log checkpoints" in html
    answer = client.get(f"/statements/{statement.slug}/receipt")
    assert answer.status_code == 503
    assert answer.get_json()["type"].endswith("/problems/no-signing-key")
    assert str(tmp_path) not in answer.get_data(as_text=True)  # the server's paths
    pressfeed.close()


def test_a_journalist_keeps_a_receipt_and_checks_it_later(tmp_path):
    """The README's steps: save the receipt with curl, check it with the
    verifier key alone, and later against the live log, which has grown; an
    altered receipt fails."""
    settings = make_settings(tmp_path)
    verifier = create_key(settings)
    token = create_token(settings)
    server = Server(settings)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        created = requests.post(
            f"{server.url}/api/statements",
            json={"title": "On the visa rules", "body": "Text", "kind": "news"},
            headers=headers,
            timeout=10,
        ).json()
        assert created["receipt"]["url"] == (
            f"{server.url}/statements/{created['slug']}/receipt"
        )
        kept = tmp_path / "receipt.json"
        deadline = time.monotonic() + 10
        while (
            answer := requests.get(created["receipt"]["url"], timeout=10)
        ).status_code == 404:
            assert time.monotonic() < deadline  # the views catch up
            time.sleep(0.05)
        kept.write_bytes(answer.content)
        check = run_cli(settings, "receipt", "check", str(kept), "--key", verifier)
        assert "is in press" not in check.stdout  # the origin is the base URL's
        assert f"version 2 of statement '{created['id']}' ('On the visa rules')" in (
            check.stdout
        )
        assert "the press office's word" in check.stdout  # the leaf proves it
        for i in range(3):
            requests.post(
                f"{server.url}/api/statements",
                json={"title": f"Later {i}", "body": "Text", "kind": "news"},
                headers=headers,
                timeout=10,
            )
        later = run_cli(
            settings, "receipt", "check", str(kept), "--key", verifier,
            "--against", server.url,
        )  # fmt: skip
        assert "still holds it" in later.stdout
    finally:
        server.stop()
    receipt = json.loads(kept.read_text())
    rooted = tmp_path / "rooted.json"
    rooted.write_text(json.dumps({**receipt, "root_hash": "00" * 32}))
    wrong_root = run_cli(
        settings, "receipt", "check", str(rooted), "--key", verifier, check=False
    )
    assert wrong_root.returncode == 1 and "root hash" in wrong_root.stderr
    receipt["leaf"] = "00" * 32
    receipt["leaf_hash"] = hashlib.sha256(b"\x00" + bytes(32)).hexdigest()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(receipt))
    refused = run_cli(
        settings, "receipt", "check", str(forged), "--key", verifier, check=False
    )
    assert refused.returncode == 1
    assert "does not lead to the checkpoint's root" in refused.stderr


@pytest.mark.parametrize(
    "change",
    [
        {"checkpoint": None},
        {"statement": "x"},
        {"inclusion_proof": "ab"},
        {"leaf_index": None},
        {"leaf_index": 0.9},
        {"tree_size": "1"},
    ],
)
def test_a_malformed_receipt_is_refused_in_words(tmp_path, change):
    settings = make_settings(tmp_path)
    verifier = create_key(settings)
    kept = tmp_path / "receipt.json"
    kept.write_text(
        json.dumps(
            {
                "checkpoint": "x\n1\nAA==\n\n— x AAAA\n",
                "leaf": "00" * 32,
                "leaf_index": 0,
                "tree_size": 1,
                "inclusion_proof": [],
                "statement": {"id": "x", "version": 1, "title": "T"},
                **change,
            }
        )
    )
    refused = run_cli(
        settings, "receipt", "check", str(kept), "--key", verifier, check=False
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("pressfeed receipt check: Not a receipt")
    assert "Traceback" not in refused.stderr


def test_a_hidden_translation_leaves_the_originals_receipt_as_it_was(
    settings, tmp_path
):
    """The original joins the translation's group, a version that shows readers
    nothing: its receipt still proves the version they see, so it does not tell
    when an embargoed translation was prepared."""
    settings = make_settings(
        tmp_path,
        settings.database_url if settings.uses_postgres else None,
        PRESSFEED_CHECKPOINT_SECONDS="3600",
        PRESSFEED_LANGUAGES="en,ru",
    )
    verifier = create_key(settings)
    pressfeed = Pressfeed(settings)
    app = pressfeed.press_office
    original = app.create_statement(
        NewStatement(title="Visa hours", body="Mondays.", kind="news"), actor="po"
    ).statement
    pressfeed.projection_worker().catch_up()
    client = create_app(services=pressfeed).test_client()
    before = client.get(f"/statements/{original.slug}/receipt").get_json()
    app.create_statement(
        NewStatement(
            title="Часы приёма", body="По понедельникам.", kind="news",
            language="ru", translation_of=original.slug, draft=True,
        ),
        actor="po",
    )  # fmt: skip
    pressfeed.projection_worker().catch_up()
    assert app.get_statement(original.id).version == original.version + 1
    after = client.get(f"/statements/{original.slug}/receipt").get_json()
    assert after["statement"]["version"] == original.version
    assert after["leaf_index"] == before["leaf_index"]
    check_receipt(after, verifier)
    pressfeed.close()


def test_a_receipt_asked_for_as_soon_as_the_create_answered_is_served(
    settings, tmp_path
):
    """The create answers with the receipt's address before the views hold
    the statement: the receipt waits for them (briefly), rather than 404."""
    pressfeed, _ = office(settings, tmp_path)
    client = create_app(services=pressfeed).test_client()
    statement = pressfeed.press_office.create_statement(
        NewStatement(title="Just now", body="Body", kind="news"), actor="po"
    ).statement  # the views have not followed yet
    assert pressfeed.views.position(pressfeed.press_office.name) == 0
    pressfeed.attach_worker(pressfeed.projection_worker()).start()
    answer = client.get(f"/statements/{statement.slug}/receipt")
    assert answer.status_code == 200, answer.get_json()
    assert client.get("/statements/no-such-slug/receipt").status_code == 404
    pressfeed.close()
