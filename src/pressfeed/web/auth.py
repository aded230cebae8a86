"""Bearer-token authentication and roles: 401 without a known token, 403 wrong role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request

from pressfeed.tokens import Caller
from pressfeed.web.problems import ProblemError
from pressfeed.web.services import services


def current_caller() -> Caller:
    return g.caller


def require_role(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            g.caller = authenticate()
            if g.caller.role != role:
                raise ProblemError(
                    403, "forbidden", "Forbidden",
                    f"This needs the {role} role; the token has {g.caller.role}.",
                )  # fmt: skip
            return view(*args, **kwargs)

        return guarded

    return decorate


def authenticate() -> Caller:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    caller = None
    if scheme.lower() == "bearer" and token.strip():
        caller = services().tokens.authenticate(token.strip())
    if caller is None:
        raise ProblemError(
            401, "unauthorized", "Unauthorized",
            "Send a valid token: Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": 'Bearer realm="pressfeed"'},
        )  # fmt: skip
    return caller
