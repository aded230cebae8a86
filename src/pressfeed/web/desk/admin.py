"""People and API tokens, for admins: create, list, disable or revoke, change roles.

A new account's one-time password and a new token are shown once, on the page
that answers the form, and never stored in a cookie or anywhere readable."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext  # type: ignore[import-untyped]
from werkzeug.wrappers import Response

from pressfeed.people import PERSON_ROLES, PersonNameTaken, PersonNotFound
from pressfeed.tokens import ROLES as TOKEN_ROLES
from pressfeed.tokens import TokenNameTaken
from pressfeed.web.context import services
from pressfeed.web.desk import bp
from pressfeed.web.problems import ProblemError
from pressfeed.web.sessions import current_person, require_person

MAX_TOKEN_NAME = 100


def people_page(status: int = 200, **context: object) -> Response:
    page = render_template(
        "desk/people.html",
        people=services().people.list(),
        roles=PERSON_ROLES,
        **context,
    )
    return make_response(page, status)


def my_name() -> str:
    person = current_person()
    return person.name if person else ""


@bp.get("/people")
@require_person("admin")
def people() -> Response:
    return people_page()


@bp.post("/people")
@require_person("admin")
def create_person() -> Response:
    name = request.form.get("name", "").strip()
    role = request.form.get("role", "")
    form = {"name": name, "role": role}
    try:
        password = services().people.create(name, role, None)
    except PersonNameTaken as error:
        return people_page(409, error=str(error), form=form)
    except ValueError as error:
        return people_page(422, error=str(error), form=form)
    return people_page(201, created={"name": name, "role": role, "password": password})


@bp.post("/people/<name>/disable")
@require_person("admin")
def disable_person(name: str) -> Response:
    if name == my_name():
        flash(gettext("You cannot disable your own account."), "error")
        return redirect(url_for("desk.people"), code=303)
    try:
        services().people.disable(name)
    except PersonNotFound as error:
        raise ProblemError("not-found", str(error)) from None
    flash(gettext("Disabled %(name)s; their sessions have ended.", name=name), "info")
    return redirect(url_for("desk.people"), code=303)


@bp.post("/people/<name>/role")
@require_person("admin")
def change_role(name: str) -> Response:
    role = request.form.get("role", "")
    if name == my_name():
        flash(gettext("You cannot change your own role."), "error")
        return redirect(url_for("desk.people"), code=303)
    try:
        services().people.set_role(name, role)
    except PersonNotFound as error:
        raise ProblemError("not-found", str(error)) from None
    except ValueError as error:
        flash(str(error), "error")
        return redirect(url_for("desk.people"), code=303)
    flash(
        gettext(
            "%(name)s is now %(role)s; their sessions have ended.", name=name, role=role
        ),
        "info",
    )
    return redirect(url_for("desk.people"), code=303)


def tokens_page(status: int = 200, **context: object) -> Response:
    page = render_template(
        "desk/tokens.html",
        tokens=services().tokens.list(),
        roles=TOKEN_ROLES,
        **context,
    )
    return make_response(page, status)


@bp.get("/tokens")
@require_person("admin")
def tokens() -> Response:
    return tokens_page()


@bp.post("/tokens")
@require_person("admin")
def create_token() -> Response:
    name = request.form.get("name", "").strip()
    role = request.form.get("role", "")
    form = {"name": name, "role": role}
    if not name or len(name) > MAX_TOKEN_NAME or not name.isprintable():
        error = f"A token's name is 1 to {MAX_TOKEN_NAME} printable characters."
        return tokens_page(422, error=error, form=form)
    try:
        token = services().tokens.create(name, role)
    except TokenNameTaken as error:
        return tokens_page(409, error=str(error), form=form)
    except ValueError as error:
        return tokens_page(422, error=str(error), form=form)
    return tokens_page(201, created={"name": name, "role": role, "token": token})


@bp.post("/tokens/<path:name>/revoke")
@require_person("admin")
def revoke_token(name: str) -> Response:
    if not services().tokens.revoke(name):
        raise ProblemError("not-found", f"No active token is named {name!r}.")
    flash(gettext("Revoked the token %(name)s.", name=name), "info")
    return redirect(url_for("desk.tokens"), code=303)
