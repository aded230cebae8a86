"""Every public URL, built in one place: the site, the feeds, the API's `url`,
the WebSub pings and the audit links all take their paths from here.

The routes that answer them are declared in ``web/``; a test checks that each
path built here is answered by the route meant for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

ALL, KIND, TAG = "all", "kind", "tag"


def language_prefix(language: str) -> str:
    """Where a language's public surfaces live: '' (the root) for the default
    language, '/ru' for another."""
    return f"/{quote(language, safe='')}" if language else ""


def site_language(language: str, other_languages: tuple[str, ...]) -> str:
    """The prefix language of a statement's language: '' for the default (and
    for a language no longer configured, which the root keeps showing)."""
    return language if language in other_languages else ""


@dataclass(frozen=True, order=True)
class FeedScope:
    """Which statements a feed holds: all of them, one kind, or one tag; of
    the default language (language '') or of another."""

    what: str = ALL  # ALL, KIND or TAG
    value: str = ""
    language: str = ""

    @property
    def stem(self) -> str:
        """The feed's path without its extension, e.g. /ru/feeds/kind/speech."""
        prefix = language_prefix(self.language)
        if self.what == ALL:
            return f"{prefix}/feeds/all"
        return f"{prefix}/feeds/{self.what}/{quote(self.value, safe='')}"


ALL_STATEMENTS = FeedScope()


def feed_path(scope: FeedScope, extension: str) -> str:
    return f"{scope.stem}.{extension}"


def changes_feed_path(language: str = "") -> str:
    return f"{language_prefix(language)}/feeds/changes.atom"


def archive_page_path(number: int, language: str = "") -> str:
    return f"{language_prefix(language)}/feeds/archive/{number}.atom"


def change_archive_page_path(number: int, language: str = "") -> str:
    return f"{language_prefix(language)}/feeds/changes/archive/{number}.atom"


def front_page_path(language: str = "") -> str:
    return f"{language_prefix(language)}/"


def statement_path(slug: str) -> str:
    return f"/statements/{quote(slug, safe='')}"


def statement_version_path(slug: str, version: int) -> str:
    return f"{statement_path(slug)}/versions/{version}"


def statement_receipt_path(slug: str) -> str:
    """A statement's receipt: its current version's place in the signed log."""
    return f"{statement_path(slug)}/receipt"


def audit_checkpoint_path() -> str:
    return "/audit/checkpoint"


def audit_key_path() -> str:
    return "/audit/key"


def inclusion_proof_path(index: int, size: int) -> str:
    return f"/audit/proof/inclusion?index={index}&size={size}"


def messages_path(language: str = "") -> str:
    return f"{language_prefix(language)}/messages"


def search_path(language: str = "") -> str:
    return f"{language_prefix(language)}/search"


def search_feed_path(language: str = "") -> str:
    return f"{language_prefix(language)}/feeds/search.atom"


def page_of_feed(scope: FeedScope) -> str:
    """The HTML list a feed mirrors (its alternate link): all messages, of one
    kind for a kind's feed (a tag has no list of its own)."""
    path = messages_path(scope.language)
    if scope.what == KIND:
        return f"{path}?{urlencode({'kind': scope.value})}"
    return path


def audit_head_path() -> str:
    return "/audit/head"


def problem_type_path(name: str) -> str:
    return f"/problems/{name}"


def absolute(base_url: str, path: str) -> str:
    """The full URL of a path on this press office's site."""
    return f"{base_url}{path}"


# The characters url_for leaves unescaped in a query (werkzeug.urls._urlencode).
QUERY_SAFE = "!$'()*,/:;?@"


def with_query(path: str) -> Callable[..., str]:
    """A maker of path's URLs with query arguments, as url_for writes them
    (in the order given, None left out), at a fraction of its cost."""

    def url(**args: object) -> str:
        query = urlencode(
            [(name, value) for name, value in args.items() if value is not None],
            safe=QUERY_SAFE,
        )
        return f"{path}?{query}" if query else path

    return url
