"""The Merkle tree over the log, checked against an independent implementation
of RFC 9162 section 2.1 written here from the RFC's definitions (MTH, PATH,
PROOF/SUBPROOF), not with the project's code: every root of sizes 1 to 300,
inclusion and consistency proofs of random pairs, through the public routes,
on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta

import pytest

from pressfeed.application import NewStatement
from pressfeed.assembly import Pressfeed
from pressfeed.transparency import (
    consistent,
    inclusion_ranges,
    root_from_inclusion,
    subtrees,
    tile_of,
    tile_sql,
)
from pressfeed.web import create_app
from tests.conftest import make_settings

# RFC 9162 2.1, as the RFC writes it


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = largest_power_of_two_below(len(d))
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = largest_power_of_two_below(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = largest_power_of_two_below(len(d))
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def proof(m: int, d: list[bytes]) -> list[bytes]:
    return subproof(m, d, True)


# A log of at least 300 events, written by single commands and by an import
# (so leaves arrive one transaction at a time and a thousand at once)


def fill(pressfeed: Pressfeed, events: int = 300) -> None:
    app = pressfeed.press_office
    for i in range(7):
        result = app.create_statement(
            NewStatement(title=f"Single {i}", body=f"Body {i}", kind="news"),
            actor="po",
        )
        if i % 2:
            app.amend(
                result.statement.id,
                expected_version=2,
                changes={"body": f"Amended {i}"},
                change_note="More",
                minor=False,
                actor="po",
            )
    start = datetime(2020, 1, 1, tzinfo=UTC)
    app.import_statements(
        [
            NewStatement(
                title=f"Imported {i}",
                body="Text",
                kind="news",
                published_at=start + timedelta(hours=i),
            )
            for i in range(70)
        ],
        actor="import",
    )
    i = 0
    while (app.recorder.max_notification_id() or 0) < events:
        app.create_statement(
            NewStatement(title=f"Late {i}", body="Body", kind="news"), actor="po"
        )
        i += 1


@pytest.fixture
def logged(settings):
    pressfeed = Pressfeed(settings)
    fill(pressfeed)
    client = create_app(services=pressfeed).test_client()
    leaves = [bytes.fromhex(link.hash) for link in pressfeed.ledger.links()]
    yield pressfeed, client, leaves
    pressfeed.close()


def test_leaves_are_the_chain_hashes_in_log_order(logged):
    _, client, leaves = logged
    assert len(leaves) >= 300
    first = client.get("/audit/leaves").get_json()
    assert first == [{"index": i, "hash": h.hex()} for i, h in enumerate(leaves)]
    page = client.get("/audit/leaves?start=290&limit=5").get_json()
    assert [e["index"] for e in page] == [290, 291, 292, 293, 294]
    assert client.get(f"/audit/leaves?start={len(leaves)}").get_json() == []


def test_every_root_from_1_to_300_is_rfc_9162s(logged):
    pressfeed, _, leaves = logged
    tree = pressfeed.ledger.tree
    assert tree.size() == len(leaves)
    for n in range(1, 301):
        assert tree.root(n) == mth(leaves[:n]), n
    assert tree.root(0) == hashlib.sha256(b"").digest()


def test_inclusion_proofs_are_rfc_9162s(logged):
    _, client, leaves = logged
    rng = random.Random(9162)
    pairs = [(0, 1), (0, 2), (1, 2), (255, 256), (256, 257), (299, 300)]
    pairs += [(rng.randrange(n), n) for n in rng.sample(range(1, 301), 120)]
    for index, size in pairs:
        answer = client.get(f"/audit/proof/inclusion?index={index}&size={size}")
        assert answer.status_code == 200
        hashes = [bytes.fromhex(h) for h in answer.get_json()["hashes"]]
        assert hashes == path(index, leaves[:size]), (index, size)
        assert root_from_inclusion(index, size, leaves[index], hashes) == mth(
            leaves[:size]
        )


def test_consistency_proofs_are_rfc_9162s(logged):
    _, client, leaves = logged
    rng = random.Random(6962)
    pairs = [(1, 1), (1, 2), (2, 3), (4, 8), (7, 300), (128, 256), (300, 300)]
    for _ in range(120):
        old = rng.randrange(1, 301)
        pairs.append((old, rng.randrange(old, 301)))
    for old, new in pairs:
        answer = client.get(f"/audit/proof/consistency?from={old}&to={new}")
        assert answer.status_code == 200
        hashes = [bytes.fromhex(h) for h in answer.get_json()["hashes"]]
        assert hashes == proof(old, leaves[:new]), (old, new)
        assert consistent(old, new, mth(leaves[:old]), mth(leaves[:new]), hashes)


def test_proof_checkers_refuse_what_does_not_fit(sqlite_settings):
    rng = random.Random(1)
    leaves = [rng.randbytes(32) for _ in range(40)]
    good = path(5, leaves[:37])
    root = mth(leaves[:37])
    assert root_from_inclusion(5, 37, leaves[5], good) == root
    bad = [*good]
    bad[2] = bytes(32)
    assert root_from_inclusion(5, 37, leaves[5], bad) != root
    assert root_from_inclusion(6, 37, leaves[5], good) != root
    steps = proof(13, leaves[:37])
    assert consistent(13, 37, mth(leaves[:13]), root, steps)
    assert not consistent(13, 37, mth(leaves[:12]), root, steps)
    assert not consistent(13, 37, mth(leaves[:13]), mth(leaves[:36]), steps)
    assert not consistent(13, 37, mth(leaves[:13]), root, steps[:-1])
    assert not consistent(37, 13, root, mth(leaves[:13]), steps)


def test_bad_queries_are_problems(logged):
    _, client, leaves = logged
    for query in (
        "/audit/proof/inclusion?index=5&size=5",
        "/audit/proof/inclusion?index=-1&size=5",
        "/audit/proof/inclusion?size=5",
        "/audit/proof/consistency?from=0&to=5",
        "/audit/proof/consistency?from=6&to=5",
        "/audit/leaves?limit=1001",
        "/audit/leaves?start=x",
        "/audit/proof/inclusion?index=01&size=5",  # one spelling per number
        "/audit/proof/inclusion?index=1&index=2&size=5",
        "/audit/proof/consistency?from=1&to=5&to=6",
        "/audit/leaves?start=99999999999999999999999",
    ):
        answer = client.get(query)
        assert answer.status_code == 400, query
        assert answer.get_json()["type"].endswith("/problems/bad-tree-query")
    said = client.get("/audit/proof/consistency?from=0&to=5").get_json()["detail"]
    assert "from 1" in said
    beyond = client.get(f"/audit/proof/inclusion?index=0&size={len(leaves) + 1}")
    assert beyond.status_code == 400
    assert beyond.get_json()["type"].endswith("/problems/beyond-tree-size")


def test_a_store_made_before_the_tree_gets_it_whole(settings):
    pressfeed = Pressfeed(settings)
    app = pressfeed.press_office
    for i in range(5):
        app.create_statement(
            NewStatement(title=f"Old {i}", body="Body", kind="news"), actor="po"
        )
    leaves = [bytes.fromhex(link.hash) for link in pressfeed.ledger.links()]
    pressfeed.ledger.tables.execute("DELETE FROM {t}", t="pf_tree")
    assert pressfeed.ledger.tree_is_behind()
    pressfeed.close()
    reopened = Pressfeed(settings)  # catches the tree up at once
    assert not reopened.ledger.tree_is_behind()
    assert reopened.ledger.tree.root(len(leaves)) == mth(leaves)
    reopened.ledger.tables.execute("DELETE FROM {t}", t="pf_tree")
    reopened.press_office.create_statement(  # or at the next insert
        NewStatement(title="New", body="Body", kind="news"), actor="po"
    )
    leaves = [bytes.fromhex(link.hash) for link in reopened.ledger.links()]
    assert reopened.ledger.tree.root(len(leaves)) == mth(leaves)
    reopened.close()


# On PostgreSQL a proof reads its nodes from an index that keeps them tile by
# tile (TILE_HEIGHT levels, as in C2SP tlog-tiles) with their hashes


def test_a_proofs_nodes_fall_in_one_tile_per_row_of_levels():
    size = 3_000_000
    for leaf in (0, 1, 1_234_567, size - 1):
        nodes = [
            node for lo, hi in inclusion_ranges(leaf, size) for node in subtrees(lo, hi)
        ]
        rows: dict[int, set[int]] = {}
        for node in nodes:
            row, tile = tile_of(node)
            rows.setdefault(row, set()).add(tile)
        assert len(nodes) >= 15
        assert len(rows) == 4  # 22 levels: rows 0 to 3
        # one tile for the leaf's own path, and one of the right edge's
        assert all(len(tiles) <= 2 for tiles in rows.values())


def tree_indexes(pressfeed: Pressfeed) -> list[str]:
    rows = pressfeed.ledger.tables.query(
        "SELECT indexname FROM pg_indexes WHERE schemaname = ? AND tablename = ?",
        [pressfeed.ledger.tables.dialect.schema, "pf_tree"],
    )
    return sorted(row["indexname"] for row in rows)


def test_postgres_reads_proofs_by_tile_and_an_older_tree_gets_the_index(
    tmp_path, postgres_url
):
    settings = make_settings(tmp_path, postgres_url)
    pressfeed = Pressfeed(settings)
    fill(pressfeed, events=100)
    assert "pf_tree_by_tile" in tree_indexes(pressfeed)
    nodes = [(level, idx) for level in range(7) for idx in range(100 >> level)]
    sql = pressfeed.ledger.tables.dialect.sql(
        f"SELECT level, idx, ARRAY[{tile_sql()}] AS tile FROM {{t}}", t="pf_tree"
    )
    with pressfeed.ledger.tables.cursor() as c:
        c.execute(sql)
        in_sql = {(r["level"], r["idx"]): tuple(r["tile"]) for r in c.fetchall()}
    assert {node: tile_of(node) for node in nodes} == {n: in_sql[n] for n in nodes}
    pressfeed.ledger.tables.execute("DROP INDEX {t}", t="pf_tree_by_tile")
    leaves = [bytes.fromhex(link.hash) for link in pressfeed.ledger.links()]
    pressfeed.close()
    reopened = Pressfeed(settings)
    assert "pf_tree_by_tile" in tree_indexes(reopened)
    assert reopened.ledger.tree.inclusion_proof(37, len(leaves)) == path(37, leaves)
    reopened.close()
