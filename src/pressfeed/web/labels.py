"""What the interface calls kinds, roles and statuses, in the page's language
(for the templates' filters and the feeds' titles)."""

from __future__ import annotations

from flask_babel import lazy_gettext  # type: ignore[import-untyped]

KIND_LABELS = {
    "press-release": lazy_gettext("press release"),
    "news": lazy_gettext("news"),
    "interview": lazy_gettext("interview"),
    "speech": lazy_gettext("speech"),
    "media-reply": lazy_gettext("media reply"),
    "comment": lazy_gettext("comment"),
}
ROLE_LABELS = {
    "writer": lazy_gettext("writer"),
    "publisher": lazy_gettext("publisher"),
    "auditor": lazy_gettext("auditor"),
    "admin": lazy_gettext("admin"),
}
STATUS_LABELS = {
    "draft": lazy_gettext("draft"),
    "scheduled": lazy_gettext("scheduled"),
    "published": lazy_gettext("published"),
    "retracted": lazy_gettext("retracted"),
}


def kind_label(kind: str) -> str:
    """A kind as readers read it, in the page's language, its first letter a
    capital (not every word's: "Communiqué de presse")."""
    label = KIND_LABELS.get(kind)
    text = str(label) if label is not None else kind.replace("-", " ")
    return text[:1].upper() + text[1:]
