"""The shapes of what publishers send, validated by pydantic; the API, the importer
and /api/openapi.json all use these same models, so they cannot drift apart."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from pressfeed.application import NewStatement
from pressfeed.rendering import check_render_cost, strip_xml_illegal

SLUG_REGEX = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
TAG_MAX_LENGTH = 50
LANGUAGE_REGEX = r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$"
KIND_REGEX = r"^[a-z][a-z0-9-]*$"


# Letters that are drawn as blanks (Hangul fillers, the blank Braille pattern).
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _cleaned(text: str) -> str:
    """A text field: line ends as newlines (browsers send CRLF), XML-illegal
    characters dropped, outer whitespace trimmed; something in it must show."""
    cleaned = strip_xml_illegal(str(unix_line_ends(text))).strip()
    if not any(map(_shows, cleaned)):
        raise ValueError("must not be empty, or only spaces or invisible characters")
    return cleaned


def _shows(character: str) -> bool:
    """Whether a reader sees it: not a space, a control or format character
    (zero-width spaces and joiners, soft hyphens), an unassigned code point or
    a blank letter."""
    category = unicodedata.category(character)
    return (
        category[0] != "Z"
        and category not in ("Cc", "Cf", "Cn")
        and (character not in BLANK_LETTERS)
    )


def unix_line_ends(value: object) -> object:
    """Before a length is counted: a browser sends each line end as two
    characters (CRLF), which must not count twice against a limit."""
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


LINE_ENDS = BeforeValidator(unix_line_ends)  # last in Annotated: it runs first


def _not_uuid(slug: str) -> str:
    import uuid

    try:
        uuid.UUID(slug)
    except ValueError:
        return slug
    raise ValueError("a slug must not look like a statement id")


def _one_line(text: str) -> str:
    """Plain text on one line: runs of whitespace (newlines too) become a space."""
    return " ".join(_cleaned(text).split())


Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=300),
    AfterValidator(_one_line),
    LINE_ENDS,
]
Body = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200_000),
    AfterValidator(_cleaned),
    AfterValidator(check_render_cost),  # refused when its Markdown is too costly
    LINE_ENDS,
]
Note = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    AfterValidator(_cleaned),
    LINE_ENDS,
]
Kind = Annotated[str, StringConstraints(pattern=KIND_REGEX, max_length=40)]
SUMMARY_MAX_LENGTH = 600
SPEAKER_MAX_LENGTH = 100


Summary = Annotated[
    str,
    StringConstraints(min_length=1, max_length=SUMMARY_MAX_LENGTH),
    AfterValidator(_one_line),
    Field(description="Plain text for lists, teasers and feed summaries."),
    LINE_ENDS,
]
Speaker = Annotated[
    str,
    StringConstraints(min_length=1, max_length=SPEAKER_MAX_LENGTH),
    AfterValidator(_one_line),
    Field(description='Who speaks, e.g. "Ambassador" or "Press Officer".'),
]
Removed = Annotated[Literal[""], Field(description="An empty string removes it.")]


def normal_tag(text: str) -> str:
    """A tag as it is stored and as its feed's URL names it: composed (NFC) and
    casefolded, so "Éte", "e\u0301te" and "ÉTE" are one tag."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def is_tag(text: str) -> bool:
    """The one rule for tags, checked when a tag is accepted and by the feed route
    /feeds/tag/<tag>.*, so every accepted tag has a feed: normalised already, 1 to
    50 characters, a letter or digit, then letters, digits, combining marks (as in
    "i̇stanbul" or Devanagari vowel signs), "_" or "-". Invisible format
    characters (zero-width joiners, soft hyphens) and spaces are not."""
    return (
        0 < len(text) <= TAG_MAX_LENGTH
        and normal_tag(text) == text
        and text[0].isalnum()
        and all(
            c.isalnum() or c in "_-" or unicodedata.category(c).startswith("M")
            for c in text[1:]
        )
    )


def _tag(text: str) -> str:
    tag = normal_tag(text.strip())
    if not is_tag(tag):
        raise ValueError(
            f"a tag is 1 to {TAG_MAX_LENGTH} letters, digits, marks, _ or -, "
            "beginning with a letter or digit"
        )
    return tag


Tag = Annotated[
    str,
    StringConstraints(max_length=4 * TAG_MAX_LENGTH),  # bounds the work below
    AfterValidator(_tag),
    Field(description="Stored casefolded and composed (NFC)."),
]
Tags = Annotated[list[Tag], Field(max_length=20)]
Slug = Annotated[
    str,
    StringConstraints(pattern=SLUG_REGEX, min_length=1, max_length=120),
    AfterValidator(_not_uuid),
]
Language = Annotated[str, StringConstraints(pattern=LANGUAGE_REGEX, max_length=35)]
TranslationOf = Annotated[str, StringConstraints(min_length=1, max_length=120)]

# Times a statement may carry: from 1900 (no press office's archive is older) to
# before 9000. Every zone's local rendering of them, and their UTC, stay far
# inside the years 1 to 9999 Python's datetime can hold, so no page, feed or
# conversion of a time accepted here can overflow.
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9000, 1, 1, tzinfo=UTC)  # exclusive


def _within_bounds(moment: datetime) -> datetime:
    # Comparing aware datetimes subtracts them, which cannot overflow; converting
    # 9999-12-31T23:00-05:00 to UTC would.
    if not EARLIEST_TIME <= moment < LATEST_TIME:
        raise ValueError("must lie from 1900-01-01T00:00:00Z to before the year 9000")
    return moment


# A date and a time, as ISO 8601 writes them: not a number (pydantic would read
# 1000000000, or "1000000000", as seconds since 1970).
WRITTEN_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


_READ_MOMENT = TypeAdapter(datetime)  # pydantic's own reading of ISO 8601


def _written_as_iso_8601(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and WRITTEN_MOMENT.match(value):
        return _READ_MOMENT.validate_python(value)
    raise ValueError(
        "must be an ISO 8601 date and time with an offset, like 2030-01-01T10:00:00Z"
    )


Moment = Annotated[
    AwareDatetime,
    BeforeValidator(_written_as_iso_8601),
    AfterValidator(_within_bounds),
    Field(
        description="ISO 8601 with an offset, from 1900-01-01T00:00:00Z to "
        "before 9000-01-01T00:00:00Z.",
        json_schema_extra={"pattern": "^(19[0-9]{2}|[2-8][0-9]{3})-"},
    ),
]


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
    summary: Summary | None = None
    speaker: Speaker | None = None
    slug: Slug | None = None
    draft: bool = False
    publish_at: Moment | None = Field(
        None, description="A future time: the statement is scheduled (embargoed)."
    )
    published_at: Moment | None = Field(
        None, description="A past time: a back-dated import of a published statement."
    )
    translation_of: TranslationOf | None = Field(
        None,
        description="The id or slug of the statement this one translates: joins "
        "its group of translations (one statement per language).",
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
            translation_of=self.translation_of,
            slug=self.slug,
            draft=self.draft,
            publish_at=self.publish_at,
            published_at=self.published_at,
            summary=self.summary,
            speaker=self.speaker,
        )


class StatementAmendment(Strict):
    """Changes to a statement, with the public reason for them."""

    title: Title | None = None
    body: Body | None = None
    kind: Kind | None = None
    tags: Tags | None = None
    summary: Summary | Removed | None = None
    speaker: Speaker | Removed | None = None
    change_note: Note | None = Field(
        None, description="Why: required once the statement is published."
    )
    minor: bool = Field(False, description="A typo fix: feeds keep the updated time.")

    @model_validator(mode="after")
    def changes_something(self) -> Self:
        if not self.changes():
            raise ValueError(
                "give at least one of title, body, kind, tags, summary, speaker"
            )
        return self

    def changes(self) -> dict[str, Any]:
        """The fields given; an empty summary or speaker is None (removed)."""
        fields = ("title", "body", "kind", "tags", "summary", "speaker")
        values = {name: getattr(self, name) for name in fields}
        if values["tags"] is not None:
            values["tags"] = unique(values["tags"])
        changes = {name: value for name, value in values.items() if value is not None}
        return {
            name: value or None if name in ("summary", "speaker") else value
            for name, value in changes.items()
        }


class ScheduleRequest(Strict):
    publish_at: Moment


class ApprovalRequest(Strict):
    """Approve a statement in review: publish it now, or at publish_at."""

    publish_at: Moment | None = Field(
        None, description="A future time: approve and schedule instead of publishing."
    )


class FeatureRequest(Strict):
    """The published statement to feature on the front page."""

    statement: Annotated[
        str,
        StringConstraints(min_length=1, max_length=120),
        Field(description="The statement's id or slug."),
    ]


class RetractionRequest(Strict):
    reason: Note


CURSOR_REGEX = r"^[0-9]{1,18}$"
MAX_POSITION = 2**63 - 1  # the log's positions are 64-bit integers in SQL


class ListQuery(BaseModel):
    """Query of GET /api/statements (from the query string, so not strict)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["draft", "scheduled", "published", "retracted"] | None = None
    kind: Kind | None = None
    limit: int = Field(20, ge=1, le=100)
    cursor: Annotated[str, StringConstraints(pattern=CURSOR_REGEX)] | None = None
    q: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Words to search for (drafts included), best match first.",
    )


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


class ReceiptOut(BaseModel):
    """Where this version's last event sits in the log's Merkle tree."""

    version: int
    leaf_index: int = Field(description="The event's leaf in /audit/leaves.")
    leaf: str = Field(description="The event's chain hash, the tree's leaf (hex).")
    leaf_hash: str = Field(description="SHA-256(0x00 || leaf), RFC 9162 (hex).")
    url: str | None = Field(
        description=(
            "The receipt: signed checkpoint and inclusion proof in one JSON "
            "document (null while the statement was never public)."
        )
    )
    checkpoint_url: str
    key_url: str


class TranslationOut(BaseModel):
    id: str
    slug: str
    url: str
    status: Literal["draft", "scheduled", "published", "retracted"]
    possibly_out_of_date: bool


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
    summary: str | None
    speaker: str | None
    status: Literal["draft", "scheduled", "published", "retracted"]
    version: int
    created_at: AwareDatetime
    published_at: AwareDatetime | None
    updated_at: AwareDatetime
    publish_at: AwareDatetime | None
    planned_publication_at: AwareDatetime | None = Field(
        description=(
            "The embargo: while scheduled, when the statement will be published;"
            " once published, the embargo it was published against (null if none)."
        )
    )
    retracted_at: AwareDatetime | None
    retraction_reason: str | None
    url: str
    change_notes: list[ChangeNoteOut]
    review: ReviewOut
    translation_group: str | None = None
    translations: dict[str, TranslationOut] = Field(
        default_factory=dict,
        description="The other statements of its group of translations, by "
        "language; possibly_out_of_date when this one had a major amendment since.",
    )
    receipt: ReceiptOut | None = Field(
        None, description="In answers about one statement, not in lists."
    )


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
