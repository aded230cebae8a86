"""Reading an import file: every line checked with the API's schema, by several
processes, and given back in file order with its number."""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pytest

from pressfeed import import_file
from pressfeed.import_file import BadLine, CheckFailed, read_statements
from pressfeed.rendering import render_budget_ms

KINDS = ("news", "press_release")


def line(i: int, **fields: object) -> str:
    return json.dumps({"title": f"Statement {i}", "body": f"Text {i}.", **fields})


@pytest.fixture(autouse=True)
def small_tasks(monkeypatch):
    """Tasks of 3 lines, so that a short file spreads over the workers."""
    monkeypatch.setattr(import_file, "LINES_PER_TASK", 3)


def test_every_line_comes_back_in_file_order_with_its_number(tmp_path):
    path = tmp_path / "archive.jsonl"
    lines = [line(i, kind="news") for i in range(20)]
    lines.insert(5, "")  # blank lines are skipped, and still counted
    lines.insert(11, "   ")
    path.write_text("\n".join(lines) + "\n")
    statements = read_statements(path, KINDS, "fr")
    assert [s.title for _, s in statements] == [f"Statement {i}" for i in range(20)]
    assert [n for n, _ in statements][4:7] == [5, 7, 8]
    assert {s.language for _, s in statements} == {"fr"}  # the default language


def test_the_first_bad_line_in_file_order_is_named(tmp_path):
    path = tmp_path / "archive.jsonl"
    lines = [line(i, kind="news") for i in range(20)]
    lines[16] = line(16, kind="news", title="")  # in a later task
    lines[8] = line(8, kind="obituary")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadLine) as refused:
        read_statements(path, KINDS, "en")
    assert refused.value.number == 9
    assert refused.value.problem == "unknown kind 'obituary'"


def test_a_body_too_costly_to_render_is_a_bad_line_naming_the_limit(tmp_path):
    path = tmp_path / "archive.jsonl"
    lines = [line(i, kind="news") for i in range(5)]
    lines[3] = line(3, kind="news", body="[" * 100_000)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadLine) as refused:
        read_statements(path, KINDS, "en")
    assert refused.value.number == 4
    assert f"more than {render_budget_ms('[' * 100_000)} ms" in refused.value.problem


def test_a_line_that_is_not_json_names_the_line(tmp_path):
    path = tmp_path / "archive.jsonl"
    path.write_text(line(0, kind="news") + "\n{not json\n")
    with pytest.raises(BadLine) as refused:
        read_statements(path, KINDS, "en")
    assert refused.value.number == 2
    assert refused.value.problem.startswith("(line): Invalid JSON")


def killed(*args):
    """A worker killed while it checks (the OOM killer, an operator)."""
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_fails_the_check_with_a_reason(tmp_path, monkeypatch):
    path = tmp_path / "archive.jsonl"
    path.write_text("\n".join(line(i, kind="news") for i in range(10)) + "\n")
    monkeypatch.setattr(import_file, "check_lines", killed)
    with pytest.raises(CheckFailed, match="died"):
        read_statements(path, KINDS, "en")


def test_only_a_few_tasks_are_read_ahead_of_the_one_checked(tmp_path):
    """The file is never all in memory: while the first task's result is
    awaited, at most `ahead` more tasks have been read from the file."""
    drawn = []

    def tasks():
        for i in range(50):
            drawn.append(i)
            yield [(i + 1, line(i, kind="news").encode())]

    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("fork")) as pool:
        checked = import_file._checked_in_order(pool, 4, tasks(), KINDS, "en")
        first = next(checked)
        assert len(drawn) == 5  # the first task and four ahead
        assert [n for n, _ in first] == [1]
        assert len(list(checked)) == 49
