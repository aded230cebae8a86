"""Reading a file of statements to import (JSON lines): every line is checked
with the API's schema, on every core, since the dear part of the check (the
cost of rendering each body's Markdown) is plain CPU work."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Collection, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from pressfeed.application import NewStatement
from pressfeed.schemas import StatementCreate

LINES_PER_TASK = 500  # lines one worker checks at a time
CHECKERS = max(1, min(os.cpu_count() or 1, 8))  # processes checking the lines


class CheckFailed(Exception):
    """A worker checking the lines died (killed, out of memory)."""


class BadLine(Exception):
    """A line the API would refuse: its number and why."""

    def __init__(self, number: int, problem: str) -> None:
        super().__init__(number, problem)  # the arguments a pickle rebuilds it from
        self.number = number
        self.problem = problem

    def __str__(self) -> str:
        return f"line {self.number}: {self.problem}"


NumberedLines = list[tuple[int, bytes]]
NumberedStatements = list[tuple[int, NewStatement]]


def read_statements(
    file: Path, kinds: Collection[str], default_language: str
) -> NumberedStatements:
    """Each statement of the file with its line number, in file order; BadLine
    for the first bad line (in file order) and nothing else; CheckFailed when
    a worker died."""
    statements: NumberedStatements = []
    pool: ProcessPoolExecutor | None = None
    try:
        pool = _checkers(CHECKERS)
        checked = _checked_in_order(
            pool, 2 * CHECKERS, _tasks(file), kinds, default_language
        )
        for result in checked:
            if isinstance(result, BadLine):
                raise result
            statements.extend(result)
    except BrokenProcessPool:
        raise CheckFailed(
            "A process checking the lines died (killed, or out of memory?)."
        ) from None
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return statements


def _checkers(workers: int) -> ProcessPoolExecutor:
    """The processes that check the lines, all started, and all ignoring Ctrl-C
    (SIGINT goes to the whole process group): the importing process stops
    them, rather than each printing a traceback. They are forked (at once,
    with the schemas already imported) while SIGINT is held back, so that
    none is interrupted before it ignores it, and a Ctrl-C pressed meanwhile
    reaches this process afterwards instead of being lost."""
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_ignore_ctrl_c,
    )
    try:
        with _ctrl_c_held_back():
            pool.submit(int).result()  # a fork pool starts every worker at once
    except BaseException:
        pool.shutdown(cancel_futures=True)
        raise
    return pool


def _ignore_ctrl_c() -> None:
    """In a checker: ignore SIGINT, then let it through (it was held back)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextmanager
def _ctrl_c_held_back() -> Iterator[None]:
    """SIGINT blocked meanwhile, in this thread and in what it forks; one that
    came meanwhile is delivered when it is unblocked."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _checked_in_order(
    pool: ProcessPoolExecutor,
    ahead: int,
    tasks: Iterator[NumberedLines],
    kinds: Collection[str],
    default_language: str,
) -> Iterator[NumberedStatements | BadLine]:
    """check_lines of each task, in order, with at most `ahead` tasks in flight:
    the file is never all in memory (Executor.map would submit every task at
    once)."""
    in_flight: deque[Future[NumberedStatements | BadLine]] = deque()
    for task in tasks:
        in_flight.append(pool.submit(check_lines, task, kinds, default_language))
        if len(in_flight) > ahead:
            yield in_flight.popleft().result()
    while in_flight:
        yield in_flight.popleft().result()


def _tasks(file: Path) -> Iterator[NumberedLines]:
    """The file's non-blank lines with their numbers, LINES_PER_TASK at a time."""
    task: NumberedLines = []
    with file.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            task.append((number, line))
            if len(task) == LINES_PER_TASK:
                yield task
                task = []
    if task:
        yield task


def check_lines(
    lines: NumberedLines, kinds: Collection[str], default_language: str
) -> NumberedStatements | BadLine:
    """The statements of some lines, or the first bad one among them."""
    statements = []
    for number, line in lines:
        try:
            fields = StatementCreate.model_validate_json(line)
        except ValidationError as error:
            return BadLine(number, _problems(error))
        if fields.kind not in kinds:
            return BadLine(number, f"unknown kind {fields.kind!r}")
        statements.append((number, fields.as_new_statement(default_language)))
    return statements


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '(line)'}: {e['msg']}"
        for e in error.errors(include_url=False)
    )
