"""The press desk: where the people of the press office sign in and work in the
browser. Server-rendered, no JavaScript needed; every action goes through the
same PressOffice commands as the API, with the person as the actor.

One blueprint, in a few modules: signin (accounts, sessions, sign-in), admin
(people and API tokens), pages (the statements).
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response as HttpResponse

from pressfeed.web.problems import ProblemError, http_problem, problem_response
from pressfeed.web.sessions import after_a_refused_token, sender_field

bp = Blueprint("desk", __name__, url_prefix="/desk")
bp.add_app_template_global(sender_field, "sender_field")

# Forms post back to the desk: its pages allow that, and nothing else more
# than the public site does.
DESK_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@bp.after_request
def private_pages(response: Response) -> Response:
    """Desk pages are never kept by shared caches and may post their forms."""
    response.headers["Cache-Control"] = "no-store, private"
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = DESK_CSP
    return response


@bp.before_request
def own_pages_only() -> None:
    """A desk form is sent from the desk's own pages: a post the browser says
    came from another site, a sibling domain's included, is refused even
    with a valid CSRF token (a sibling could plant the form cookie)."""
    fetched_from = request.headers.get("Sec-Fetch-Site")
    if request.method == "POST" and fetched_from in ("cross-site", "same-site"):
        raise ProblemError(
            "forbidden", "Desk forms are sent from the desk's own pages."
        )


@bp.errorhandler(CSRFError)
def stale_form(error: CSRFError) -> HttpResponse:
    return after_a_refused_token() or problem_response(http_problem(error))


from pressfeed.web.desk import admin, pages, signin  # noqa: E402  (routes on bp)

__all__ = ["admin", "bp", "pages", "signin"]
