"""Bearer-token authentication and roles: 401 without a known token, 403 wrong role.
The audit's routes also admit people signed in to the desk (web.sessions)."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, make_response, request

from pressfeed.people import Person
from pressfeed.tokens import Caller
from pressfeed.web.context import services
from pressfeed.web.problems import ProblemError
from pressfeed.web.sessions import admit, current_person

log = logging.getLogger(__name__)

FAILURES = "pressfeed.auth_failures"  # the app's FailureLimiter

# Token role -> the roles of desk people who may also use its routes. The API
# (publisher) takes tokens only: a cookie there would need CSRF tokens too.
SESSION_ROLES: dict[str, tuple[str, ...]] = {
    "auditor": ("auditor", "publisher", "admin"),
}


def current_caller() -> Caller:
    caller: Caller = g.caller
    return caller


def require_role(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A bearer token with the role; for the routes of SESSION_ROLES, also a person
    signed in to the desk (when the request has no Authorization header) with
    one of the roles listed there. A browser with neither is sent to sign in."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if by_session(role):
                admitted = admit(SESSION_ROLES[role])
                if not isinstance(admitted, Person):
                    return admitted  # to sign in, or to change the password
                g.caller = Caller(admitted.name, admitted.role)
                response = make_response(view(*args, **kwargs))
                response.headers["Cache-Control"] = "no-store, private"
                return response
            g.caller = authenticate()
            if g.caller.role != role:
                raise ProblemError(
                    "forbidden",
                    f"This needs the {role} role; the token has {g.caller.role}.",
                )
            return view(*args, **kwargs)

        return guarded

    return decorate


def by_session(role: str) -> bool:
    """Whether a desk session decides: a route that admits people, a request
    without a token, and someone signed in or a browser (sent to sign in)."""
    if role not in SESSION_ROLES or "Authorization" in request.headers:
        return False
    return current_person() is not None or asks_for_a_page()


def asks_for_a_page() -> bool:
    """A browser (it prefers HTML to JSON), which is better sent to sign in."""
    best = request.accept_mimetypes.best_match(
        ["application/problem+json", "application/json", "text/html"]
    )
    return best == "text/html"


class FailureLimiter:
    """Counts failed authentications per client address over a sliding minute.

    Kept per process: with several processes a client gets at most that many
    failures per process, which still turns guessing into a crawl.
    """

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds the client must wait, 0 if it may try."""
        with self._lock:
            recent = self._recent(client, time.monotonic())
            if len(recent) < self.per_minute:
                return 0
            return max(1, int(recent[0] + 60 - time.monotonic()) + 1)

    def record(self, client: str) -> None:
        with self._lock:
            self._recent(client, time.monotonic()).append(time.monotonic())
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def _recent(self, client: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] < now - 60:
            recent.popleft()
        return recent


def authenticate() -> Caller:
    """The caller of a valid token. Invalid attempts are counted per address and,
    past the limit, answered 429 instead of 401: a valid token always passes, so
    strangers sharing an address (or a proxy) cannot lock the press office out."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    caller = None
    if scheme.lower() == "bearer" and token.strip():
        caller = services().tokens.authenticate(token.strip())
    if caller is not None:
        return caller
    client = request.remote_addr or "unknown"
    limiter: FailureLimiter = current_app.extensions[FAILURES]
    wait = limiter.retry_after(client)
    limiter.record(client)
    log.warning(
        "Failed authentication from %s for %s %s", client, request.method, request.path
    )
    if wait:
        raise ProblemError(
            "too-many-failed-authentications",
            f"Too many failed authentications from this address; retry in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    raise ProblemError(
        "unauthorized",
        "Send a valid token: Authorization: Bearer <token>.",
        headers={"WWW-Authenticate": 'Bearer realm="pressfeed"'},
    )
