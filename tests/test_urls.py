"""The public URLs are built in one place, and each is answered by the route
meant for it; the projections build none."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import url_for

import pressfeed.projections
from pressfeed.urls import (
    ALL_STATEMENTS,
    KIND,
    TAG,
    FeedScope,
    archive_page_path,
    audit_head_path,
    changes_feed_path,
    feed_path,
    messages_path,
    problem_type_path,
    statement_path,
    statement_version_path,
    with_query,
)
from pressfeed.web import create_app

PATHS = [
    (feed_path(ALL_STATEMENTS, "atom"), "feeds.all_statements", {"fmt": "atom"}),
    (
        feed_path(FeedScope(KIND, "speech"), "rss"),
        "feeds.by_kind",
        {"kind": "speech", "fmt": "rss"},
    ),
    (
        feed_path(FeedScope(TAG, "visas"), "json"),
        "feeds.by_tag",
        {"tag": "visas", "fmt": "json"},
    ),
    (changes_feed_path(), "feeds.changes", {}),
    (archive_page_path(3), "feeds.archive", {"number": 3}),
    (statement_path("visa-hours"), "site.statement", {"slug": "visa-hours"}),
    (
        statement_version_path("visa-hours", 2),
        "site.public_version",
        {"slug": "visa-hours", "version": 2},
    ),
    (messages_path(), "site.messages", {}),
    (audit_head_path(), "audit.head", {}),
    (problem_type_path("not-found"), "public.problem_type", {"name": "not-found"}),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path_factory.mktemp("urls"), PRESSFEED_LANGUAGES="en,fr"
    )
    app = create_app(settings)
    yield app
    app.extensions["pressfeed"].close()


@pytest.fixture(scope="module")
def url_map(app):
    return app.url_map.bind("localhost")


@pytest.mark.parametrize(("path", "endpoint", "arguments"), PATHS)
def test_each_public_path_reaches_its_route(url_map, path, endpoint, arguments):
    assert url_map.match(path, method="GET") == (endpoint, arguments)


def test_tags_are_quoted_in_feed_paths():
    assert feed_path(FeedScope(TAG, "état civil"), "atom") == (
        "/feeds/tag/%C3%A9tat%20civil.atom"
    )


QUERIES = [
    {},
    {"page": 2},
    {"kind": "press-release", "year": 2026, "month": None, "page": 3},
    {"speaker": "Mme de La Tour & Fils", "kind": "speech"},
    {"speaker": "Посол / Ambassador?", "year": 1999},
    {"speaker": "a+b=c;d,e!f*g(h)'i@j:k$l%m#n"},
]


@pytest.mark.parametrize("args", QUERIES)
@pytest.mark.parametrize("language", ["", "fr"])
def test_query_urls_are_written_as_url_for_writes_them(app, args, language):
    with app.test_request_context():
        path_args = {"lang": language} if language else {}
        expected = url_for("site.messages", **path_args, **args)
        assert with_query(url_for("site.messages", **path_args))(**args) == expected


PUBLIC_PREFIXES = ("/feeds", "/statements", "/messages", "/audit", "/api")


def test_the_projections_name_no_url_paths():
    found = []
    for module in Path(pressfeed.projections.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and text.startswith(PUBLIC_PREFIXES):
                found.append(f"{module.name}: {text!r}")
    assert found == []
