"""/messages filtered by kind, year, month and speaker, with counts as links."""

from __future__ import annotations

import lxml.html
import pytest

from pressfeed.application import NewStatement


def listed(client, query: str) -> list[str]:
    response = client.get(f"/messages?{query}", headers={"Accept": "text/html"})
    assert response.status_code == 200, response.get_data(as_text=True)
    tree = lxml.html.fromstring(response.data)
    return [
        li.cssselect("a")[0].text
        for li in tree.cssselect(".messages li")
        if li.cssselect("a")
    ]


@pytest.fixture
def archive(services):
    from datetime import UTC, datetime

    lines = [
        ("Interview May 2017", "interview", "2017-05-03", "Ambassador"),
        ("Interview Dec 2017", "interview", "2017-12-20", "Press Officer"),
        ("Interview 2018", "interview", "2018-02-01", "Ambassador"),
        ("News 2017", "news", "2017-06-01", None),
        ("Comment 2018", "comment", "2018-03-01", "Press Officer"),
    ]
    services.press_office.import_statements(
        [
            NewStatement(
                title=title,
                body="Text.",
                kind=kind,
                speaker=speaker,
                published_at=datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC),
            )
            for title, kind, day, speaker in lines
        ],
        actor="import",
    )
    services.worker.catch_up()
    services.await_views()


def test_kind_and_year_together_list_exactly_those(client, archive):
    assert listed(client, "kind=interview&year=2017") == [
        "Interview Dec 2017",
        "Interview May 2017",
    ]


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("kind=interview&year=2017&month=5", ["Interview May 2017"]),
        ("speaker=Ambassador", ["Interview 2018", "Interview May 2017"]),
        ("speaker=Press+Officer&year=2018", ["Comment 2018"]),
        ("year=2017&month=6", ["News 2017"]),
        ("kind=speech", []),
    ],
)
def test_filters_combine(client, archive, query, titles):
    assert listed(client, query) == titles


def test_counts_per_kind_and_year_are_links(client, archive):
    tree = lxml.html.fromstring(client.get("/messages?year=2017").data)
    kinds = {a.text: a.get("href") for a in tree.cssselect(".filter-kinds a.kind")}
    assert kinds == {
        "Interview (2)": "/messages?kind=interview&year=2017",
        "News (1)": "/messages?kind=news&year=2017",
    }
    years = [a.text for a in tree.cssselect(".filter-years a")]
    assert years == ["all", "2018 (2)"]  # the chosen year is no link
    assert tree.cssselect(".filter-years strong")[0].text == "2017 (3)"
    tree = lxml.html.fromstring(client.get("/messages").data)
    years = [a.text for a in tree.cssselect(".filter-years a")]
    assert years == ["2018 (2)", "2017 (3)"]


def test_each_kind_label_links_to_its_page(client, archive):
    tree = lxml.html.fromstring(client.get("/statements/interview-2018").data)
    assert tree.cssselect(".meta a.kind")[0].get("href") == "/messages?kind=interview"


@pytest.mark.parametrize(
    "query", ["kind=tweet", "year=17", "month=5", "year=2017&month=0", "year=99999"]
)
def test_a_filter_no_statement_could_match_is_400(client, query):
    response = client.get(f"/messages?{query}")
    assert response.status_code == 400
    assert response.get_json()["type"].endswith("/bad-filter")
