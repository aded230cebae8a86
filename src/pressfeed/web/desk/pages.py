"""The desk's statement pages: the lists, composing, one statement and what the
person may do to it. Every action is a PressOffice command with the person as
the actor, so the events, the audit and the feeds see a desk action as they
see an API one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

from flask import Response, redirect, render_template, request, url_for
from flask_babel import gettext  # type: ignore[import-untyped]
from merge3 import Merge3
from pydantic import ValidationError
from werkzeug.wrappers import Response as HttpResponse

from pressfeed.aggregates import (
    DRAFT,
    PUBLISHED,
    RETRACTED,
    SCHEDULED,
    StatementError,
    Status,
)
from pressfeed.application import CommandResult, NewStatement, StaleVersion
from pressfeed.people import Person
from pressfeed.projections.catalogue import list_statements, statements_in_review
from pressfeed.rendering import markdown_to_html
from pressfeed.representation import (
    StatementDocument,
    amended_translations,
    public_notes,
    statement_document,
    text_diff,
    with_translations,
)
from pressfeed.schemas import (
    RetractionRequest,
    StatementAmendment,
    StatementCreate,
    unix_line_ends,
)
from pressfeed.times import iso, on_the_wall_clock
from pressfeed.web.context import services
from pressfeed.web.desk import bp
from pressfeed.web.problems import ProblemError
from pressfeed.web.sessions import current_person, page_of_form, require_person

EVERYONE = ("writer", "publisher", "auditor", "admin")
AUTHORS = ("writer", "publisher")
LIST_SIZE = 50


@dataclass
class Draft:
    """What a person typed into a statement form."""

    title: str = ""
    kind: str = ""
    language: str = ""
    tags: str = ""
    summary: str = ""
    speaker: str = ""
    body: str = ""
    publish_at: str = ""  # a local date and time in the office's zone
    change_note: str = ""
    minor: bool = False
    translation_of: str = ""  # the id or slug of the statement translated
    errors: list[str] = field(default_factory=list)
    field_errors: dict[str, str] = field(default_factory=dict)  # beside each field

    @classmethod
    def from_form(cls) -> Draft:
        return cls.from_fields(request.form)

    @classmethod
    def from_fields(cls, form: Mapping[str, str]) -> Draft:
        return cls(
            title=form.get("title", ""),
            kind=form.get("kind", ""),
            language=form.get("language", ""),
            tags=form.get("tags", ""),
            summary=form.get("summary", ""),
            speaker=form.get("speaker", ""),
            body=form.get("body", ""),
            publish_at=form.get("publish_at", ""),
            change_note=form.get("change_note", ""),
            minor=form.get("minor") == "on",
            translation_of=form.get("translation_of", "").strip(),
        )

    @classmethod
    def of(cls, document: StatementDocument) -> Draft:
        return cls(
            title=document["title"],
            kind=document["kind"],
            language=document["language"],
            tags=", ".join(document["tags"]),
            summary=document.get("summary") or "",
            speaker=document.get("speaker") or "",
            body=document["body"],
        )

    @property
    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.tags.split(",") if t.strip()]


# What a person may do, by role and by the statement's state.


def allowed_actions(person: Person, document: StatementDocument) -> set[str]:
    status, role = document["status"], person.role
    in_review = document["review"]["in_review"]
    actions: set[str] = set()
    if role in AUTHORS and status == DRAFT:
        actions |= {"edit"}
        if not in_review and document["review"]["requested_by"] is None:
            actions.add("review")
    if role == "publisher":
        if status in (DRAFT, SCHEDULED):
            actions |= {"approve", "approve-schedule"} if in_review else set()
            actions |= {"publish", "schedule"} if not in_review else set()
        if status == SCHEDULED:
            actions.add("unschedule")
        if status == PUBLISHED:
            actions |= {"amend", "withdraw", "feature"}
        if status != RETRACTED and document.get("translation_group"):
            actions.add("unlink")
    return actions


def require_action(person: Person, document: StatementDocument, action: str) -> None:
    if action not in allowed_actions(person, document):
        raise ProblemError(
            "forbidden",
            f"A {person.role} may not do that to a statement that is "
            f"{document['status']}.",
        )


# Pages


@bp.get("/")
@require_person(*EVERYONE)
def index() -> str:
    """Drafts, statements in review, scheduled, latest published, withdrawn."""
    services().await_views()
    views = services().views
    drafts, _ = list_statements(views, status=DRAFT, limit=LIST_SIZE)
    scheduled, _ = list_statements(views, status=SCHEDULED, limit=LIST_SIZE)
    published, _ = list_statements(views, status=PUBLISHED, limit=10)
    withdrawn, _ = list_statements(views, status=RETRACTED, limit=10)
    scheduled.sort(key=lambda d: d["publish_at"] or "")
    return render_template(
        "desk/index.html",
        person=current_person(),
        drafts=[d for d in drafts if not d["review"]["in_review"]],
        in_review=statements_in_review(views, LIST_SIZE),
        scheduled=[  # a held one is in review, not on its way
            (d, until(d["publish_at"]))
            for d in scheduled
            if not d["review"]["in_review"]
        ],
        featured=featured_document(),
        published=published,
        withdrawn=withdrawn,
    )


@bp.get("/statements")
@require_person(*EVERYONE)
def statements() -> str:
    """Every statement of a status, newest first, LIST_SIZE a page."""
    status = request.args.get("status", "")
    headings = {
        DRAFT: gettext("Drafts"),
        SCHEDULED: gettext("Scheduled"),
        PUBLISHED: gettext("Published"),
        RETRACTED: gettext("Withdrawn"),
    }
    if status not in headings:
        raise ProblemError(
            "not-found", "Give status: draft, scheduled, published or retracted."
        )
    before = request.args.get("before")
    if before is not None and not (
        before.isascii() and before.isdigit() and len(before) < 19
    ):
        raise ProblemError("bad-request", "before is a position: a whole number.")
    services().await_views()
    documents, older = list_statements(
        services().views,
        status=cast(Status, status),
        limit=LIST_SIZE,
        before_position=int(before) if before else None,
    )
    return render_template(
        "desk/statements.html",
        heading=headings[status],
        status=status,
        documents=documents,
        older=older,
    )


@bp.route("/statements/new", methods=["GET", "POST"])
@require_person(*AUTHORS)
def compose() -> HttpResponse:
    """Title, kind, language, tags and body; preview, save, publish or schedule."""
    person = current_person_or_fail()
    if request.method == "GET":
        if kept := kept_form("/desk/statements/new"):
            _, fields = kept
            draft = Draft.from_fields(fields)
            draft.errors = [kept_notice()]
            return compose_page(draft)
        draft = Draft(language=services().settings.default_language)
        if translating := request.args.get("translation_of", "").strip():
            draft.translation_of = translating  # from a statement's "Translate"
            draft.language = request.args.get("language", draft.language)
        return compose_page(draft)
    draft, action = Draft.from_form(), request.form.get("action", "")
    if action == "preview":
        return compose_page(draft, preview=preview_of(draft))
    if action not in ("save-draft", "publish", "schedule"):
        raise ProblemError("bad-request", "Choose Save draft, Publish now or Schedule.")
    if action != "save-draft" and person.role != "publisher":
        raise ProblemError("forbidden", "Only a publisher publishes or schedules.")
    try:
        new = new_statement(draft, action)
        result = services().press_office.create_statement(new, actor=person.name)
    except (ValidationError, StatementError, ValueError) as error:
        draft.errors = messages_of(error)
        draft.field_errors = field_errors_of(error)
        return compose_page(draft, status=422)
    return after_command(result)


@bp.get("/statements/<uuid:statement_id>")
@require_person(*EVERYONE)
def statement(statement_id: UUID) -> Response:
    document = current_document(statement_id)
    if kept := kept_form(f"/desk/statements/{statement_id}"):
        path, fields = kept
        saved = Draft.of(document)  # what the kept form did not send stays
        shown = {name: getattr(saved, name) for name in (*MERGED_FIELDS, "language")}
        draft = Draft.from_fields({**shown, **fields})
        draft.errors = [kept_notice()]
        return statement_page(
            document,
            draft,
            amending=path.endswith("/amendment"),
            opened_version=fields.get("version"),
            reason=fields.get("reason", ""),
            kept=kept_text(fields) if kept_form_gone(path, document) else None,
        )
    return statement_page(document, Draft.of(document))


# The action whose form a statement form's path posts from.
FORM_OF_PATH = {
    "edit": "edit", "publication": "edit", "schedule": "edit",
    "amendment": "amend", "withdrawal": "withdraw",
}  # fmt: skip


def kept_form_gone(path: str, document: StatementDocument) -> bool:
    """Whether the form a kept one was sent from is no longer on the page
    (the statement was scheduled, published or withdrawn meanwhile)."""
    action = FORM_OF_PATH.get(path.rsplit("/", 1)[-1])
    person = current_person_or_fail()
    return action is not None and action not in allowed_actions(person, document)


def kept_text(fields: Mapping[str, str]) -> dict[str, str]:
    """The typed fields of a kept form worth showing back as they were."""
    shown = ("title", "summary", "speaker", "body", "change_note", "reason")
    return {name: fields[name] for name in shown if fields.get(name)}


def kept_notice() -> str:
    return gettext(
        "Your session had ended, so what you sent was not saved. Here it is as "
        "you typed it: check it, then send it again."
    )


def kept_form(page: str) -> tuple[str, dict[str, str]] | None:
    """The form kept for the person across a sign-in (?kept=), when it was
    sent from this page."""
    token = request.args.get("kept", "")
    person = current_person()
    if not token or person is None:
        return None
    kept = services().people.take_kept_form(person.name, token)
    if kept is None or page_of_form(kept[0]) != page:
        return None
    return kept


@bp.post("/statements/<uuid:statement_id>/edit")
@require_person(*AUTHORS)
def edit(statement_id: UUID) -> HttpResponse:
    """Saves a draft's new text (no change note needed before publication)."""
    person, document = acting_on(statement_id, "edit")
    draft = Draft.from_form()
    if request.form.get("action") == "preview":
        return statement_page(document, draft, preview=preview_of(draft))
    return amend_with(person, document, draft, note=None, minor=False)


@bp.post("/statements/<uuid:statement_id>/review")
@require_person(*AUTHORS)
def submit_for_review(statement_id: UUID) -> HttpResponse:
    person, document = acting_on(statement_id, "review")
    return run(
        document,
        lambda: services().press_office.submit_for_review(
            UUID(document["id"]),
            actor=person.name,
            expected_version=form_version(),
        ),
    )


@bp.post("/statements/<uuid:statement_id>/publication")
@require_person("publisher")
def publish(statement_id: UUID) -> HttpResponse:
    """Publish now, of the version on the person's page (the statement approves
    itself first when it is in review)."""
    document = current_document(statement_id)
    action = "approve" if document["review"]["in_review"] else "publish"
    person, _ = acting_on(statement_id, action)
    if unsaved := unsaved_text(document):
        return unsaved
    if document["status"] == SCHEDULED and request.form.get("lift_embargo") != "on":
        draft = Draft.of(document)
        draft.errors = [gettext("Tick the box to lift the embargo: nothing was done.")]
        return statement_page(document, draft, status=422)
    return run(
        document,
        lambda: services().press_office.publish(
            UUID(document["id"]), actor=person.name, expected_version=form_version()
        ),
    )


@bp.post("/statements/<uuid:statement_id>/schedule")
@require_person("publisher")
def schedule(statement_id: UUID) -> HttpResponse:
    """Schedule for "Publish at", of the version on the person's page (approving
    it first when it is in review)."""
    document = current_document(statement_id)
    action = "approve-schedule" if document["review"]["in_review"] else "schedule"
    person, _ = acting_on(statement_id, action)
    if unsaved := unsaved_text(document):
        return unsaved
    draft = Draft.of(document)  # the page's forms as they were, and the time typed
    draft.publish_at = request.form.get("publish_at", "")
    try:
        publish_at = local_time(draft.publish_at)
    except ValueError as error:  # the page keeps the time typed, to correct
        return statement_page(document, draft, errors=[str(error)], status=422)
    return run(
        document,
        lambda: services().press_office.schedule(
            UUID(document["id"]),
            publish_at=publish_at,
            actor=person.name,
            expected_version=form_version(),
        ),
        typed=draft,
    )


@bp.post("/statements/<uuid:statement_id>/unschedule")
@require_person("publisher")
def unschedule(statement_id: UUID) -> HttpResponse:
    person, document = acting_on(statement_id, "unschedule")
    return run(
        document,
        lambda: services().press_office.unschedule(
            UUID(document["id"]), actor=person.name, expected_version=form_version()
        ),
    )


@bp.post("/statements/<uuid:statement_id>/amendment")
@require_person("publisher")
def amend(statement_id: UUID) -> HttpResponse:
    """Preview changes (the diff against the published text), or save them."""
    person, document = acting_on(statement_id, "amend")
    draft = Draft.from_form()
    if request.form.get("action") == "preview":
        diff = text_diff(document, draft.title, draft.body, "your amendment")
        return statement_page(
            document, draft, preview=preview_of(draft), diff=diff, amending=True
        )
    return amend_with(
        person, document, draft, note=draft.change_note, minor=draft.minor
    )


@bp.post("/statements/<uuid:statement_id>/withdrawal")
@require_person("publisher")
def withdraw(statement_id: UUID) -> HttpResponse:
    """First shows what readers will see; withdraws once confirmed."""
    person, document = acting_on(statement_id, "withdraw")
    reason = request.form.get("reason", "").strip()
    try:
        reason = RetractionRequest.model_validate({"reason": reason}).reason
    except ValidationError as error:  # none, or longer than the API takes
        draft = Draft.of(document)
        draft.errors = messages_of(error)  # "Reason: ...", as the field is labelled
        return statement_page(document, draft, reason=reason, status=422)
    opened_at = form_version()
    if opened_at != document["version"]:
        return conflict_page(document, Draft.of(document), reason=reason)
    if request.form.get("confirmed") != "yes":
        now = iso(datetime.now(UTC))
        notice = {**document, "retracted_at": now, "retraction_reason": reason}
        office = services().press_office
        translations = [
            statement_document(other, html=False)
            for other in office.translations(office.get_statement(statement_id))
            if other.status == PUBLISHED
        ]
        page = render_template(
            "desk/withdraw.html",
            person=person,
            statement=document,
            translations=translations,
            notice=notice,
            reason=reason,
            version=opened_at,
        )
        return Response(page, mimetype="text/html")
    return run(
        document,
        lambda: services().press_office.retract(
            UUID(document["id"]),
            expected_version=form_version(),
            reason=reason,
            actor=person.name,
        ),
    )


@bp.post("/statements/<uuid:statement_id>/featuring")
@require_person("publisher")
def feature(statement_id: UUID) -> HttpResponse:
    """Features the statement first, in full, on its language's front page."""
    person, document = acting_on(statement_id, "feature")
    office = services().press_office
    return run(
        document,
        lambda: CommandResult(
            "feature", office.feature(document["id"], actor=person.name)
        ),
    )


@bp.post("/statements/<uuid:statement_id>/featuring/end")
@require_person("publisher")
def unfeature(statement_id: UUID) -> HttpResponse:
    """The front page shows the newest statements again, if it still featured
    this one (not another a colleague featured since the page was opened)."""
    person, _ = acting_on(statement_id, "feature")
    services().press_office.unfeature(actor=person.name, only=statement_id)
    services().command_recorded()
    return redirect(url_for("desk.statement", statement_id=statement_id), code=303)


@bp.post("/statements/<uuid:statement_id>/translation/unlink")
@require_person("publisher")
def unlink_translation(statement_id: UUID) -> HttpResponse:
    """Takes the statement out of its group of translations (the others stay
    linked to each other)."""
    person, document = acting_on(statement_id, "unlink")
    return run(
        document,
        lambda: services().press_office.unlink_translation(
            statement_id, actor=person.name, expected_version=form_version()
        ),
    )


# Helpers


def featured_document() -> StatementDocument | None:
    """The statement the front page features, as recorded, while published."""
    office = services().press_office
    featured = office.front_page().featured
    if featured is None:
        return None
    document = statement_document(office.get_statement(featured), html=False)
    return document if document["status"] == PUBLISHED else None


def current_person_or_fail() -> Person:
    person = current_person()
    if person is None:  # require_person has already sent strangers away
        raise ProblemError("unauthorized", "Sign in first.")
    return person


def current_document(statement_id: UUID) -> StatementDocument:
    """The statement as the event store has it now (not as the views do)."""
    return statement_document(services().press_office.get_statement(statement_id))


def acting_on(statement_id: UUID, action: str) -> tuple[Person, StatementDocument]:
    """The person and the statement, if they may do this to it now; the
    conflict page when the statement changed since the form was opened so
    that they no longer may (a colleague scheduled the draft being edited)."""
    person = current_person_or_fail()
    document = current_document(statement_id)
    if action not in allowed_actions(person, document) and "version" in request.form:
        opened = form_version()
        if 1 <= opened < document["version"]:
            then = statement_document(services().audit.version(statement_id, opened))
            if action in allowed_actions(person, then):  # allowed when opened
                changed = conflict_page(
                    document,
                    Draft.from_form(),
                    text_change="title" in request.form,
                    reason=request.form.get("reason", ""),
                )
                raise ChangedMeanwhile(changed)
    require_action(person, document, action)
    return person, document


class ChangedMeanwhile(Exception):
    """Answered with its conflict page (see acting_on)."""

    def __init__(self, page: Response) -> None:
        super().__init__("The statement changed since the form was opened.")
        self.page = page


@bp.errorhandler(ChangedMeanwhile)
def changed_meanwhile(error: ChangedMeanwhile) -> Response:
    return error.page


def form_version() -> int:
    """The version the person's form was opened at: every statement form
    carries it, and one without it (or with a garbled one) is refused
    rather than acted on whatever the current version is."""
    raw = request.form.get("version", "")
    # ASCII digits only: "²".isdigit() is true, and int("²") raises.
    if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        raise ProblemError(
            "bad-request",
            "The form did not say which version it was opened at: open the "
            "statement again. Nothing was done.",
        )
    return int(raw)


def run(
    document: StatementDocument, command: Any, typed: Draft | None = None
) -> HttpResponse:
    """Runs a command; a refusal is shown on the statement's page, with what
    the person typed (an embargo time) kept to correct."""
    draft = typed or Draft.of(document)
    try:
        result: CommandResult = command()
    except StaleVersion:
        return conflict_page(document, draft)
    except (StatementError, ValueError) as error:
        return statement_page(document, draft, errors=messages_of(error), status=409)
    return after_command(result)


def amend_with(
    person: Person,
    document: StatementDocument,
    draft: Draft,
    *,
    note: str | None,
    minor: bool,
) -> HttpResponse:
    """Saves a draft's edit or an amendment of the version the form was opened at;
    a stale form is never saved over another person's change."""
    try:
        fields = StatementAmendment.model_validate(
            {
                "title": draft.title,
                "body": draft.body,
                "kind": draft.kind,
                "tags": draft.tag_list,
                "summary": draft.summary.strip(),
                "speaker": draft.speaker.strip(),
                "change_note": note or None,
                "minor": minor,
            }
        )
        result = services().press_office.amend(
            UUID(document["id"]),
            expected_version=form_version(),
            changes=fields.changes(),
            change_note=fields.change_note,
            minor=fields.minor,
            actor=person.name,
        )
    except StaleVersion:
        return conflict_page(document, draft, text_change=True)
    except (ValidationError, StatementError, ValueError) as error:
        draft.errors = messages_of(error)
        draft.field_errors = field_errors_of(error)
        return statement_page(
            document,
            draft,
            status=422,
            amending=note is not None,
            opened_version=str(form_version()),  # a save then is checked against it
        )
    return after_command(result)


def after_command(result: CommandResult) -> HttpResponse:
    services().command_recorded()
    return redirect(
        url_for("desk.statement", statement_id=result.statement.id), code=303
    )


def new_statement(draft: Draft, action: str) -> NewStatement:
    publish_at = local_time(draft.publish_at) if action == "schedule" else None
    fields = StatementCreate.model_validate(
        {
            "title": draft.title,
            "body": draft.body,
            "kind": draft.kind,
            "language": draft.language or None,
            "tags": draft.tag_list,
            "summary": draft.summary.strip() or None,
            "speaker": draft.speaker.strip() or None,
            "draft": action == "save-draft",
            "publish_at": publish_at,
            "translation_of": draft.translation_of or None,
        }
    )
    return fields.as_new_statement(services().settings.default_language)


def local_time(text: str) -> datetime:
    """A "Publish at" date and time, read in the office's zone (an hour the
    clocks skip is refused; one they show twice is its later passing)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("Give Publish at as a date and a time.") from None
    if moment.tzinfo is not None:
        return moment
    return on_the_wall_clock(moment, services().settings.timezone)


def until(publish_at: str | None) -> str:
    """How long until a time, as people say it: 'in 2 h 05 min'."""
    if publish_at is None:
        return ""
    seconds = int(
        (datetime.fromisoformat(publish_at) - datetime.now(UTC)).total_seconds()
    )
    if seconds <= 0:
        return str(gettext("due now"))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return str(gettext("in %(days)s d %(hours)s h", days=days, hours=hours))
    if hours:
        return str(
            gettext(
                "in %(hours)s h %(minutes)s min", hours=hours, minutes=f"{minutes:02d}"
            )
        )
    return str(
        gettext(
            "in %(minutes)s min %(seconds)s s",
            minutes=minutes,
            seconds=f"{seconds:02d}",
        )
    )


def messages_of(error: Exception) -> list[str]:
    """What was wrong, in words a person reads: "Title: ..." per field."""
    if isinstance(error, ValidationError):
        labels = field_labels()
        return [
            f"{labels.get(name, name)}: {said}" for name, said in field_problems(error)
        ]
    return [str(error)]


def field_errors_of(error: Exception) -> dict[str, str]:
    """Each form field's first problem, to show beside it."""
    if not isinstance(error, ValidationError):
        return {}
    found: dict[str, str] = {}
    for name, said in field_problems(error):
        found.setdefault(name, said)
    return found


def field_problems(error: ValidationError) -> list[tuple[str, str]]:
    """(field, problem) of a validation error, the problem in the person's
    language where pydantic's wording is a programmer's."""
    problems = []
    for e in error.errors(include_url=False):
        name = str(e["loc"][0]) if e["loc"] else "form"
        limit = (e.get("ctx") or {}).get("max_length") or 0
        kind = e["type"]
        if kind in ("string_too_short", "too_short", "missing"):
            said = gettext("This is required.")
        elif kind in ("string_too_long", "too_long"):
            said = gettext("At most %(count)s characters.", count=limit)
        elif kind == "value_error":
            said = str(e["msg"]).removeprefix("Value error, ")
        else:
            said = str(e["msg"])
        problems.append((name, said))
    return problems


def preview_of(draft: Draft) -> dict[str, Any]:
    """The draft as the public page will show it."""
    return {
        "title": draft.title,
        "body_html": markdown_to_html(draft.body),
        "kind": draft.kind or "news",
        "language": draft.language or services().settings.default_language,
        "tags": draft.tag_list,
        "speaker": draft.speaker.strip() or None,
        "published_at": iso(datetime.now(UTC)),
        "slug": "preview",
    }


def compose_page(
    draft: Draft, *, preview: dict[str, Any] | None = None, status: int = 200
) -> Response:
    person = current_person_or_fail()
    # A second pair of eyes: a new text's author may not publish it too.
    may_publish = (
        person.role == "publisher" and not services().press_office.second_pair_of_eyes
    )
    page = render_template(
        "desk/compose.html",
        person=person,
        may_publish=may_publish,
        draft=draft,
        preview=preview,
        kinds=services().settings.kinds,
        zone=zone_name(),
    )
    return Response(page, status=status, mimetype="text/html")


def statement_page(
    document: StatementDocument,
    draft: Draft,
    *,
    preview: dict[str, Any] | None = None,
    diff: str | None = None,
    errors: list[str] | None = None,
    amending: bool = False,
    opened_version: str | None = None,
    reason: str = "",
    kept: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """A statement's desk page; opened_version: the version the person's
    forms were opened at, when not the current one (a form kept across a
    sign-in), so that saving it again is checked against that version."""
    person = current_person_or_fail()
    office = services().press_office
    if document["publish_at"] and not draft.publish_at:  # the embargo, to move
        draft = replace(draft, publish_at=local_input(document["publish_at"]))
    translations = [
        statement_document(other, html=False)
        for other in office.translations(office.get_statement(UUID(document["id"])))
    ]
    page = render_template(
        "desk/statement.html",
        person=person,
        statement=with_translations(
            document, translations, services().settings.base_url
        ),
        amended_translations=amended_translations(document, translations),
        notes=public_notes(document),
        actions=allowed_actions(person, document),
        featured=featured_document(),
        draft=draft,
        preview=preview,
        diff=diff,
        errors=errors or draft.errors,
        amending=amending,
        opened_version=opened_version,
        reason=reason,
        kept=kept,
        kinds=services().settings.kinds,
        zone=zone_name(),
        publish_at_local=local_text(document["publish_at"]),
    )
    return Response(page, status=status, mimetype="text/html")


def conflict_page(
    document: StatementDocument,
    draft: Draft,
    *,
    text_change: bool = False,
    reason: str = "",
) -> Response:
    """Someone changed the statement since the form was opened: who changed
    what; for a change of the text, the person's own change merged onto the
    current version field by field, to apply on top (see merged)."""
    opened_at = form_version()
    statement_id = UUID(document["id"])
    current = current_document(statement_id)
    person = current_person_or_fail()
    changes = [  # what changed meanwhile: the audit's, so not for writers
        entry
        for entry in services().audit.history(statement_id)
        if entry["version"] > opened_at and person.role != "writer"
    ]
    both: list[str] = []
    if text_change and 1 <= opened_at <= current["version"]:
        opened = statement_document(services().audit.version(statement_id, opened_at))
        draft, both = merged(Draft.of(opened), draft, Draft.of(current))
    mine = text_diff(current, draft.title or current["title"], draft.body, "yours")
    published = current["status"] == PUBLISHED
    applies = "amend" if published else "edit"
    page = render_template(
        "desk/conflict.html",
        person=person,
        statement=current,
        changes=changes,
        mine=mine,
        draft=draft,
        both_changed=both,
        text_change=text_change,
        may_apply=text_change and applies in allowed_actions(person, current),
        reason=reason,
        published=published,
        kinds=services().settings.kinds,
    )
    return Response(page, status=409, mimetype="text/html")


MERGED_FIELDS = ("title", "kind", "tags", "summary", "speaker", "body")


LINE_MERGED_FIELDS = ("summary", "body")  # texts of lines, merged line by line


def merged(opened: Draft, mine: Draft, current: Draft) -> tuple[Draft, list[str]]:
    """Mine on top of the current version, field by field: a field the person
    left as they opened it takes the current value (a colleague's correction
    stays); one only they changed keeps theirs. A text both changed is merged
    line by line when they changed different lines (a colleague's added
    paragraph stays beside the person's corrected word); a field both
    changed otherwise keeps theirs and is named, to be looked at first."""
    result, both = replace(mine, errors=[]), []
    for name in MERGED_FIELDS:
        was, typed, now = (_as_read(getattr(d, name)) for d in (opened, mine, current))
        if typed == was:
            setattr(result, name, getattr(current, name))
        elif now in (was, typed):
            continue
        elif name in LINE_MERGED_FIELDS and (lines := merged_lines(was, typed, now)):
            setattr(result, name, lines)
        else:
            both.append(name)
    return result, both


def merged_lines(opened: str, mine: str, current: str) -> str | None:
    """The two changes of one text, line by line (a three-way merge); None
    when both changed the same lines."""
    base, ours, theirs = (
        f"{t}\n".splitlines(keepends=True) for t in (opened, mine, current)
    )
    merge = Merge3(base, ours, theirs)
    if any(region[0] == "conflict" for region in merge.merge_regions()):
        return None
    return "".join(merge.merge_lines()).removesuffix("\n")


def unsaved_text(document: StatementDocument) -> Response | None:
    """A draft's page sends its text fields with Publish and Schedule: text
    typed and not saved is never dropped for the saved text to go out. The
    page comes back with the typed text kept, and nothing is done."""
    if "title" not in request.form:
        return None
    typed, saved = Draft.from_form(), Draft.of(document)
    if form_version() != document["version"]:  # a colleague's change meanwhile
        return conflict_page(document, typed, text_change=True)
    changed = [
        field_label(name)
        for name in MERGED_FIELDS
        if (
            typed.tag_list != saved.tag_list
            if name == "tags"
            else _as_read(getattr(typed, name)) != _as_read(getattr(saved, name))
        )
    ]
    if not changed:
        return None
    typed.publish_at = request.form.get("publish_at", "")
    typed.errors = [
        gettext(
            "You changed %(fields)s and did not save it: save the draft first, "
            "then publish or schedule. Nothing was published.",
            fields=", ".join(changed),
        )
    ]
    return statement_page(
        document, typed, opened_version=str(form_version()), status=409
    )


@bp.app_template_filter("field_label")
def field_label(name: str) -> str:
    return field_labels().get(name, name)


def field_labels() -> dict[str, str]:
    """The text fields of a statement form, by name, as the form labels them."""
    return {
        "title": gettext("Title"),
        "kind": gettext("Kind"),
        "tags": gettext("Tags"),
        "summary": gettext("Summary"),
        "speaker": gettext("Speaker"),
        "body": gettext("Body"),
        "change_note": gettext("Change note"),
        "reason": gettext("Reason"),
    }


def _as_read(text: str) -> str:
    """A field as it is kept: line ends as newlines, no outer spaces."""
    return str(unix_line_ends(text)).strip()


def zone_name() -> str:
    zone = services().settings.timezone
    return str(zone.key)


def local_input(value: str) -> str:
    """A stored time as a datetime-local field shows it, in the office's zone:
    to the second, rounded up (the field has no fractions, and an embargo
    moved by sending it back must never lift earlier)."""
    moment = datetime.fromisoformat(value)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    local = moment.astimezone(services().settings.timezone)
    return local.strftime("%Y-%m-%dT%H:%M:%S")


def local_text(value: str | None) -> str:
    """A stored time as the office reads it, with its zone's abbreviation."""
    if value is None:
        return ""
    local = datetime.fromisoformat(value).astimezone(services().settings.timezone)
    return local.strftime("%d.%m.%Y %H:%M %Z")
