"""The desk's session cookie, the app's secret key and the gate of desk views.

A helper module, not a blueprint: any blueprint may import it. The cookie holds
a random token, signed with the app's secret key; the server keeps only a hash
of the token (pressfeed.people), so signing out, disabling an account or
changing its role or password ends its sessions at once.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Collection, Mapping
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Flask,
    Request,
    Response,
    after_this_request,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from markupsafe import Markup, escape
from werkzeug.wrappers import Response as Redirect

from pressfeed.config import Settings
from pressfeed.people import Person
from pressfeed.web.context import services
from pressfeed.web.problems import ProblemError

COOKIE = "pressfeed_desk"
FORM_COOKIE = "pressfeed_form"  # Flask's own session: CSRF token, pending sign-in
SALT = "pressfeed.desk-session"
LOGIN_PATH = "/desk/login"
LOGOUT_PATH = "/desk/logout"
PENDING_SIGN_IN = "pending_sign_in"  # in Flask's session: password right, code due
PASSWORD_PATH = "/desk/password"
HOME_PATH = "/desk/"
NEXT_PREFIXES = ("/desk/", "/audit/")  # where a sign-in may lead back to
CSRF_FIELD = "csrf_token"  # Flask-WTF's key in Flask's session
_UNSET = object()


def load_secret_key(settings: Settings) -> str:
    """PRESSFEED_SECRET_KEY, else the key in <instance_dir>/secret_key, generated
    there (mode 0600, in a folder 0700 if new) by the first process that needs it
    and read by every other."""
    if settings.secret_key:
        return settings.secret_key
    folder = settings.instance_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "secret_key"
    if not path.exists():
        _write_once(path, secrets.token_hex(32))
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable secret key; delete it.")
    return key


def _write_once(path: Path, key: str) -> None:
    """Writes a new file whole, then links it into place: a concurrent process
    either wins (and its key is used) or sees the complete file."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(key + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def configure(app: Flask, settings: Settings) -> None:
    """The secret key and the cookies' attributes (both cookies: the desk's and
    Flask's own, which carries the CSRF token)."""
    app.secret_key = load_secret_key(settings)
    app.session_interface = FormCookieWhenSent()
    app.config.update(
        SESSION_COOKIE_NAME=FORM_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies(settings),
        WTF_CSRF_TIME_LIMIT=None,  # the session's idle expiry governs
    )


class FormCookieWhenSent(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened without building its signer when
    the request carries no such cookie: every feed reader and most visitors."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def secure_cookies(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt=SALT)


SENDER_SALT = "pressfeed.form-sender"
SENDER_MAX_AGE = 2 * 24 * 3600  # a form opened within two days is theirs


def sender_field() -> Markup:
    """A statement form's hidden field naming (signed) who opened it: a form
    kept across a sign-in comes back to that person only."""
    person = current_person()
    if person is None:
        return Markup("")
    signed = URLSafeTimedSerializer(current_app.secret_key or "", salt=SENDER_SALT)
    value = escape(signed.dumps(person.name))
    return Markup(f'<input type="hidden" name="sent_by" value="{value}">')


def sent_by(fields: Mapping[str, str]) -> str | None:
    """The person who opened a form, if its sent_by field is genuine."""
    signed = URLSafeTimedSerializer(current_app.secret_key or "", salt=SENDER_SALT)
    try:
        name = signed.loads(fields.get("sent_by", ""), max_age=SENDER_MAX_AGE)
    except BadSignature:  # forged, or from a page opened days ago
        return None
    return name if isinstance(name, str) else None


def _cookie_token() -> str | None:
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        token = _serializer().loads(value)
    except BadSignature:
        return None
    return token if isinstance(token, str) else None


def current_person() -> Person | None:
    """The person signed in with this request's cookie, or None (no cookie, an
    ended or idle session, a disabled account). Looked up once per request."""
    person: Person | None = g.get("desk_person", _UNSET)
    if person is _UNSET:
        token = _cookie_token()
        settings = services().settings
        person = (
            services().people.session(token, settings.session_idle_hours * 3600)
            if token
            else None
        )
        g.desk_person = person
    return person


def sign_in(person: Person) -> None:
    """Starts a session of the person (ending the one this browser had) and sets
    the cookie on this request's response."""
    people, settings = services().people, services().settings
    old = _cookie_token()
    if old:
        people.end_session(old)
    people.end_idle_sessions(settings.session_idle_hours * 3600)  # abandoned ones
    token = people.start_session(person.name)
    value = _serializer().dumps(token)
    session.pop(CSRF_FIELD, None)  # a new CSRF token for the signed-in pages
    g.desk_person = person

    @after_this_request
    def set_cookie(response: Response) -> Response:
        response.set_cookie(
            COOKIE,
            value,
            httponly=True,
            samesite="Lax",
            secure=secure_cookies(settings),
            path="/",
        )
        return response


def sign_out() -> None:
    """Ends this browser's session and deletes its cookie."""
    token = _cookie_token()
    if token:
        services().people.end_session(token)
    g.desk_person = None
    settings = services().settings

    @after_this_request
    def delete_cookie(response: Response) -> Response:
        response.delete_cookie(
            COOKIE,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=secure_cookies(settings),
        )
        return response


def safe_next(target: str | None, default: str = HOME_PATH) -> str:
    """target if it is a path of this site under /desk/ or /audit/, else default:
    a sign-in never sends anyone elsewhere."""
    if not target or "\\" in target or any(ord(ch) < 32 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return default
    if not parts.path.startswith(NEXT_PREFIXES) or "/../" in parts.path:
        return default
    return target


def login_redirect() -> Redirect:
    """303 to the sign-in page, to come back here (a GET) afterwards; telling
    it when this browser's session has ended. A statement form sent after
    its session ended gets the sign-in page at once, carrying what was typed
    (see kept_fields), to come back to it once signed in: its CSRF token
    passed, so this browser's own page sent it."""
    if request.method == "POST" and page_of_form(request.path):
        return sign_in_keeping_the_form()
    here = request.full_path.rstrip("?") if request.method == "GET" else HOME_PATH
    query = {"next": here}
    if _cookie_token():
        query["ended"] = "sent" if request.method == "POST" else "yes"
    return redirect(f"{LOGIN_PATH}?{urlencode(query)}", code=303)


# A statement form's fields, kept across a sign-in so that a correction typed
# while the session ended (or before signing in again in another tab) is not
# lost: the sign-in page carries them, and once the person is signed in they
# are kept for them (people.keep_form) and put back into the page's form.
KEPT_FIELDS = (
    "title", "kind", "language", "tags", "summary", "speaker", "body",
    "publish_at", "change_note", "minor", "translation_of", "reason", "version",
    "sent_by",
)  # fmt: skip
KEPT_PREFIX = "kept."
KEPT_MAX_CHARS = 300_000  # a statement's fields, with room to spare
AUTHOR_ROLES = ("writer", "publisher")  # who sends statement forms
KEPT_PATH = "kept_path"
STATEMENT_FORM = re.compile(r"/desk/statements/(new|[0-9a-f-]{36})(/[a-z/]+)?")


def page_of_form(path: str) -> str | None:
    """The desk page a statement form was on (None for any other path)."""
    found = STATEMENT_FORM.fullmatch(path)
    return f"/desk/statements/{found.group(1)}" if found else None


def kept_fields(form: Mapping[str, str], prefix: str = "") -> dict[str, str]:
    """The statement fields of a form, as typed (prefix: as the sign-in page
    carries them)."""
    return {name: form[prefix + name] for name in KEPT_FIELDS if prefix + name in form}


def sign_in_keeping_the_form() -> Response:
    """The sign-in page, carrying the statement form this request sent."""
    return sign_in_page(request.path, kept_fields(request.form))


def sign_in_page(
    kept_path: str,
    kept: dict[str, str],
    stale: bool = False,
    target: str = HOME_PATH,
) -> Response:
    """The sign-in page, carrying a statement form (if any) to keep once
    signed in, else leading to target; stale: the page it was sent from was
    out of date."""
    page = render_template(
        "desk/login.html",
        next=page_of_form(kept_path) or target,
        name="",
        ended="sent",
        kept=kept if page_of_form(kept_path) else {},
        kept_path=kept_path if page_of_form(kept_path) else "",
        stale=stale,
    )
    return Response(page, status=200, mimetype="text/html")


def after_a_refused_token() -> Redirect | None:
    """A form from a page of this origin whose CSRF token is no longer the
    browser's (signed in or out in another tab meanwhile): Sign out still
    signs out; a sign-in page is shown afresh, still carrying its statement
    form; a statement form is kept for the person who opened it, if they
    are the one signed in now, or carried by the sign-in page. None for
    any other post (the plain 400), another site's above all."""
    if request.method != "POST" or not from_this_origin():
        return None
    if request.path == LOGOUT_PATH:
        sign_out()
        session.pop(PENDING_SIGN_IN, None)
        return redirect(LOGIN_PATH, code=303)
    if request.path in (LOGIN_PATH, LOGIN_PATH + "/code"):
        carried = request.form.get(KEPT_PATH, "")
        fields = kept_fields(request.form, KEPT_PREFIX)
        target = safe_next(request.form.get("next"))
        return sign_in_page(carried, fields, stale=True, target=target)
    page = page_of_form(request.path)
    if page is None:
        return None
    person = current_person()
    if person is None:
        return sign_in_keeping_the_form()
    target = keep_for(person, request.path, kept_fields(request.form), page)
    return redirect(target, code=303)


def from_this_origin() -> bool:
    """Whether this request came from a page of this very origin, as the
    browser says (Fetch Metadata, else Origin): a refused CSRF token alone
    does not tell an earlier page of ours from another site's, and SameSite
    cookies come along from a sibling domain's pages too."""
    fetched_from = request.headers.get("Sec-Fetch-Site")
    if fetched_from is not None:
        return fetched_from == "same-origin"
    return request.headers.get("Origin") == request.host_url.rstrip("/")


def keep_for(person: Person, path: str, fields: dict[str, str], target: str) -> str:
    """Keeps a statement form for the person, when their role writes
    statements and it is of a sane size; where to see it again (else
    target)."""
    page = page_of_form(path)
    size = sum(len(value) for value in fields.values())
    if page is None or person.role not in AUTHOR_ROLES or size > KEPT_MAX_CHARS:
        return target
    if sent_by(fields) != person.name:  # a colleague's: never shown to another
        return target
    token = services().people.keep_form(person.name, path, fields)
    return f"{page}?{urlencode({'kept': token})}"


def keep_the_form(person: Person, target: str) -> str:
    """Where to go once signed in: the page of the form the sign-in page
    carried, which keeps it for the person, or target."""
    path = request.form.get(KEPT_PATH, "")
    return keep_for(person, path, kept_fields(request.form, KEPT_PREFIX), target)


def password_redirect() -> Redirect:
    here = request.full_path.rstrip("?") if request.method == "GET" else HOME_PATH
    return redirect(f"{PASSWORD_PATH}?{urlencode({'next': here})}", code=303)


def admit(roles: Collection[str]) -> Person | Redirect:
    """The signed-in person if their role is one of roles (any role when roles
    is empty); else a redirect (to sign in, or to change a one-time password),
    or ProblemError forbidden for a wrong role."""
    person = current_person()
    if person is None:
        return login_redirect()
    if person.must_change_password:
        return password_redirect()
    if roles and person.role not in roles:
        raise ProblemError(
            "forbidden",
            f"This needs the role {' or '.join(roles)}; {person.name} is "
            f"{person.role}.",
        )
    return person


def require_person(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """For desk views: only a signed-in person with one of roles (any role when
    none is given) gets through; strangers are sent to sign in (303), people
    with a one-time password to change it, a wrong role gets 403."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            admitted = admit(roles)
            if isinstance(admitted, Redirect):
                return admitted
            return view(*args, **kwargs)

        return guarded

    return decorate
