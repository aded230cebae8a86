"""The shapes of what publishers send, validated by pydantic; the API, the importer
and /api/openapi.json all use these same models, so they cannot drift apart."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from pressfeed.application import NewStatement
from pressfeed.rendering import check_render_cost, strip_xml_illegal

SLUG_REGEX = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
TAG_REGEX = r"^[^\W_][\w-]*$"
LANGUAGE_REGEX = r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$"
KIND_REGEX = r"^[a-z][a-z0-9-]*$"


def _cleaned(text: str) -> str:
    """A text field: XML-illegal characters dropped, outer whitespace trimmed."""
    cleaned = strip_xml_illegal(text).strip()
    if not cleaned:
        raise ValueError("must not be empty or only spaces")
    return cleaned


def _not_uuid(slug: str) -> str:
    import uuid

    try:
        uuid.UUID(slug)
    except ValueError:
        return slug
    raise ValueError("a slug must not look like a statement id")


Title = Annotated[
    str, StringConstraints(min_length=1, max_length=300), AfterValidator(_cleaned)
]
Body = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200_000),
    AfterValidator(_cleaned),
    AfterValidator(check_render_cost),  # refused when its Markdown is too costly
]
Note = Annotated[
    str, StringConstraints(min_length=1, max_length=2000), AfterValidator(_cleaned)
]
Kind = Annotated[str, StringConstraints(pattern=KIND_REGEX, max_length=40)]
Tag = Annotated[
    str,
    StringConstraints(to_lower=True, strip_whitespace=True, max_length=50),
    Field(pattern=TAG_REGEX),
]
Tags = Annotated[list[Tag], Field(max_length=20)]
Slug = Annotated[
    str,
    StringConstraints(pattern=SLUG_REGEX, min_length=1, max_length=120),
    AfterValidator(_not_uuid),
]
Language = Annotated[str, StringConstraints(pattern=LANGUAGE_REGEX, max_length=35)]


def unique(tags: list[str]) -> list[str]:
    """Tags in the order given, each once."""
    return list(dict.fromkeys(tags))


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class StatementCreate(Strict):
    """A new statement: published now by default, a draft, scheduled, or back-dated."""

    title: Title
    body: Body
    kind: Kind
    language: Language | None = None
    tags: Tags = []
    slug: Slug | None = None
    draft: bool = False
    publish_at: AwareDatetime | None = Field(
        None, description="A future time: the statement is scheduled (embargoed)."
    )
    published_at: AwareDatetime | None = Field(
        None, description="A past time: a back-dated import of a published statement."
    )

    @model_validator(mode="after")
    def one_way_to_publish(self) -> Self:
        chosen = [
            name
            for name, value in (
                ("draft", self.draft),
                ("publish_at", self.publish_at),
                ("published_at", self.published_at),
            )
            if value
        ]
        if len(chosen) > 1:
            raise ValueError(
                f"give at most one of draft, publish_at, published_at: {chosen}"
            )
        self.tags = unique(self.tags)
        return self

    def as_new_statement(self, default_language: str) -> NewStatement:
        return NewStatement(
            title=self.title,
            body=self.body,
            kind=self.kind,
            language=self.language or default_language,
            tags=self.tags,
            slug=self.slug,
            draft=self.draft,
            publish_at=self.publish_at,
            published_at=self.published_at,
        )


class StatementAmendment(Strict):
    """Changes to a statement, with the public reason for them."""

    title: Title | None = None
    body: Body | None = None
    kind: Kind | None = None
    tags: Tags | None = None
    change_note: Note | None = Field(
        None, description="Why: required once the statement is published."
    )
    minor: bool = Field(False, description="A typo fix: feeds keep the updated time.")

    @model_validator(mode="after")
    def changes_something(self) -> Self:
        if not self.changes():
            raise ValueError("give at least one of title, body, kind, tags")
        return self

    def changes(self) -> dict[str, Any]:
        fields = ("title", "body", "kind", "tags")
        values = {name: getattr(self, name) for name in fields}
        if values["tags"] is not None:
            values["tags"] = unique(values["tags"])
        return {name: value for name, value in values.items() if value is not None}


class ScheduleRequest(Strict):
    publish_at: AwareDatetime


class ApprovalRequest(Strict):
    """Approve a statement in review: publish it now, or at publish_at."""

    publish_at: AwareDatetime | None = Field(
        None, description="A future time: approve and schedule instead of publishing."
    )


class RetractionRequest(Strict):
    reason: Note


CURSOR_REGEX = r"^[0-9]{1,18}$"


class ListQuery(BaseModel):
    """Query of GET /api/statements (from the query string, so not strict)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["draft", "scheduled", "published", "retracted"] | None = None
    kind: Kind | None = None
    limit: int = Field(20, ge=1, le=100)
    cursor: Annotated[str, StringConstraints(pattern=CURSOR_REGEX)] | None = None


class ChangeNoteOut(BaseModel):
    version: int
    at: AwareDatetime
    note: str
    minor: bool
    public: bool


class ReviewOut(BaseModel):
    text_author: str = Field(description="Who last changed the title or body.")
    requested_by: str | None
    requested_at: AwareDatetime | None
    approved_by: str | None
    in_review: bool


class StatementOut(BaseModel):
    """The statement representation the API answers with."""

    id: str
    slug: str
    kind: str
    title: str
    body: str
    body_html: str
    language: str
    tags: list[str]
    status: Literal["draft", "scheduled", "published", "retracted"]
    version: int
    created_at: AwareDatetime
    published_at: AwareDatetime | None
    updated_at: AwareDatetime
    publish_at: AwareDatetime | None
    planned_publication_at: AwareDatetime | None = Field(
        description="The embargo time a scheduled statement was published against."
    )
    retracted_at: AwareDatetime | None
    retraction_reason: str | None
    url: str
    change_notes: list[ChangeNoteOut]
    review: ReviewOut


class StatementPage(BaseModel):
    items: list[StatementOut]
    next_cursor: str | None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None
