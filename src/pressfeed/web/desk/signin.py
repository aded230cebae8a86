"""Signing in and out of the desk, the TOTP second step, changing one's password.

Failed attempts (a password or a code) are counted per account and per client
address over a sliding minute; past settings.sign_in_failures_per_minute for
the account, or ADDRESS_SHARE times that for the address (an office's people
behind one address share it, and one person's typos must not lock out the
others), the desk answers 429 with Retry-After, whatever the password. Every failure gets
the same message, whether the name exists, is disabled or the password wrong.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from flask import (
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
)
from flask.sansio.blueprints import BlueprintSetupState
from flask_babel import gettext, lazy_gettext  # type: ignore[import-untyped]
from werkzeug.wrappers import Response

from pressfeed.people import BadPassword, Person
from pressfeed.web.auth import FailureLimiter
from pressfeed.web.context import PRESSFEED, services
from pressfeed.web.desk import bp
from pressfeed.web.sessions import (
    HOME_PATH,
    KEPT_PATH,
    KEPT_PREFIX,
    LOGIN_PATH,
    PASSWORD_PATH,
    PENDING_SIGN_IN,
    current_person,
    keep_the_form,
    kept_fields,
    page_of_form,
    safe_next,
    sign_in,
    sign_out,
)

SIGN_IN_FAILURES = "pressfeed.sign_in_failures"  # the app's FailureLimiters
ADDRESS_SHARE = 4  # an address may fail this many times an account's limit
PENDING = PENDING_SIGN_IN
PENDING_SECONDS = 300
WRONG = lazy_gettext("Wrong name or password.")
WRONG_CODE = lazy_gettext("Wrong code.")


# Desk templates show who is signed in (looked up once per request, if asked).
bp.add_app_template_global(current_person, "desk_person")


@bp.record_once
def create_limiter(state: BlueprintSetupState) -> None:
    per_account = state.app.extensions[PRESSFEED].settings.sign_in_failures_per_minute
    state.app.extensions[SIGN_IN_FAILURES] = (
        FailureLimiter(per_account),
        FailureLimiter(per_account * ADDRESS_SHARE),
    )


def failure_counts(name: str) -> list[tuple[FailureLimiter, str]]:
    """What a failure counts against: the account (named or not), and the
    client's address."""
    accounts, addresses = current_app.extensions[SIGN_IN_FAILURES]
    return [
        (accounts, f"account:{name.strip().lower()}"),
        (addresses, f"address:{request.remote_addr}"),
    ]


def wait_seconds(name: str) -> int:
    return max(limit.retry_after(key) for limit, key in failure_counts(name))


def record_failure(name: str) -> None:
    for limit, key in failure_counts(name):
        limit.record(key)


def page(template: str, status: int = 200, **context: object) -> Response:
    return make_response(render_template(template, **context), status)


def too_many(template: str, wait: int, **context: object) -> Response:
    response = page(
        template,
        429,
        error=gettext(
            "Too many failed attempts; try again in %(wait)s seconds.", wait=wait
        ),
        **context,
    )
    response.headers["Retry-After"] = str(wait)
    return response


def redirect_to(path: str) -> Response:
    return redirect(path, code=303)


def signed_in(person: Person, target: str) -> Response:
    """Starts the session; a one-time password is changed before anything else."""
    sign_in(person)
    if person.must_change_password:
        return redirect_to(f"{PASSWORD_PATH}?{urlencode({'next': target})}")
    return redirect_to(target)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        session.pop(PENDING, None)
        if current_person() is not None:
            return redirect_to(target)
        return page("desk/login.html", next=target, name="")
    name = request.form.get("name", "")
    password = request.form.get("password", "")
    carried = carried_form()
    wait = wait_seconds(name)
    if wait:
        return too_many("desk/login.html", wait, next=target, name=name, **carried)
    person = services().people.verify_password(name, password)
    if person is None:
        record_failure(name)
        return page("desk/login.html", error=WRONG, next=target, name=name, **carried)
    if person.totp_enabled:
        session[PENDING] = {"name": person.name, "at": time.time(), "next": target}
        if carried:  # the code's form carries it on
            return page("desk/code.html", **carried)
        return redirect_to(f"{LOGIN_PATH}/code")
    return signed_in(person, keep_the_form(person, target))


def carried_form() -> dict[str, Any]:
    """The statement form a sign-in page carries (see sessions.KEPT_FIELDS),
    to carry on if the sign-in fails; empty when it carries none."""
    path = request.form.get(KEPT_PATH, "")
    if page_of_form(path) is None:
        return {}
    return {"kept": kept_fields(request.form, KEPT_PREFIX), "kept_path": path}


def pending_name() -> tuple[str, str] | None:
    """(name, next) of a sign-in whose password was right, if still fresh."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    return str(pending["name"]), safe_next(pending.get("next"))


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Response:
    pending = pending_name()
    if pending is None:
        return redirect_to(LOGIN_PATH)
    name, target = pending
    if request.method == "GET":
        return page("desk/code.html")
    carried = carried_form()
    wait = wait_seconds(name)
    if wait:
        return too_many("desk/code.html", wait, **carried)
    people = services().people
    if not people.verify_totp(name, request.form.get("code", "")):
        record_failure(name)
        return page("desk/code.html", error=WRONG_CODE, **carried)
    session.pop(PENDING, None)
    person = people.get(name)
    if person is None or person.disabled:
        return redirect_to(LOGIN_PATH)
    return signed_in(person, keep_the_form(person, target))


@bp.post("/logout")
def logout() -> Response:
    sign_out()
    session.pop(PENDING, None)
    return redirect_to(LOGIN_PATH)


@bp.route("/password", methods=["GET", "POST"])
def password() -> Response:
    """Changing one's own password; required after a one-time password."""
    target = safe_next(request.values.get("next"))
    person = current_person()
    if person is None:
        return redirect_to(f"{LOGIN_PATH}?{urlencode({'next': PASSWORD_PATH})}")
    context: dict[str, Any] = {"next": target, "forced": person.must_change_password}
    if request.method == "GET":
        return page("desk/password.html", **context)
    wait = wait_seconds(person.name)
    if wait:
        return too_many("desk/password.html", wait, **context)
    people = services().people
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    if people.verify_password(person.name, current) is None:
        record_failure(person.name)
        return page(
            "desk/password.html",
            error=gettext("The current password is wrong."),
            **context,
        )
    if new == current:
        return page(
            "desk/password.html",
            error=gettext("The new password must differ from the current one."),
            **context,
        )
    try:
        people.change_password(person.name, new)  # ends every session, this one too
    except BadPassword as error:
        return page("desk/password.html", error=str(error), **context)
    changed = people.get(person.name)
    if changed is None or changed.disabled:
        return redirect_to(LOGIN_PATH)
    sign_in(changed)
    return redirect_to(target or HOME_PATH)
