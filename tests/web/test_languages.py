# ruff: noqa: RUF001 - Russian text is meant
"""Publishing in several languages (PRESSFEED_LANGUAGES=en,ru): each language's
own front page, messages, feeds and interface; translations linked both ways."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

import feedparser
import lxml.html
import pytest
from flask import g
from lxml import etree

from pressfeed.urls import FeedScope
from pressfeed.web import create_app
from pressfeed.websub import feed_urls
from tests.conftest import make_settings

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request, tmp_path):
    url = (
        request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    )
    return make_settings(tmp_path, url, PRESSFEED_LANGUAGES="en,ru")


@pytest.fixture
def pair(desk):
    """An English statement and its Russian translation."""
    english = desk.create(title="Embassy comment", body="In English.", slug="comment")
    russian = desk.create(
        title="Комментарий посольства",
        body="По-русски.",
        language="ru",
        translation_of="comment",
    )
    english = desk.client.get(
        f"/api/statements/{english['id']}", headers=desk.headers
    ).get_json()  # now linked to its translation: one version later
    return english, russian


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    return lxml.html.fromstring(response.data)


def test_a_russian_translation_gets_a_transliterated_slug(pair):
    english, russian = pair
    assert russian["slug"] == "kommentarii-posolstva"
    assert russian["translations"]["en"]["id"] == english["id"]
    assert russian["translations"]["en"]["url"].endswith("/statements/comment")


def test_both_pages_link_each_other_with_hreflang(client, pair):
    english, russian = pair
    for this, other in ((english, russian), (russian, english)):
        html = page(client, f"/statements/{this['slug']}")
        assert html.get("lang") == this["language"]
        alternates = html.xpath("//head/link[@rel='alternate'][@hreflang]")
        assert [(a.get("hreflang"), a.get("href")) for a in alternates] == [
            (other["language"], f"http://localhost/statements/{other['slug']}"),
            (this["language"], f"http://localhost/statements/{this['slug']}"),
        ]  # the set names the page itself too, as search engines ask
        og_locale = html.xpath("//meta[@property='og:locale']/@content")
        assert og_locale == [{"en": "en_US", "ru": "ru_RU"}[this["language"]]]
        switch = html.xpath("//nav[@class='languages']//a")
        assert [a.get("href") for a in switch] == [f"/statements/{other['slug']}"]


def test_the_russian_feeds_hold_only_russian_statements_and_say_so(client, pair):
    _, russian = pair
    data = client.get("/ru/feeds/all.atom").data
    atom = etree.fromstring(data)
    assert atom.get(XML_LANG) == "ru"
    titles = [e.findtext(f"{ATOM}title") for e in atom.findall(f"{ATOM}entry")]
    assert titles == [russian["title"]]
    assert all(e.get(XML_LANG) is None for e in atom.findall(f"{ATOM}entry"))
    parsed = feedparser.parse(data)
    assert parsed.feed.language == "ru"
    assert parsed.entries[0].content[0].language == "ru"
    rss = feedparser.parse(client.get("/ru/feeds/all.rss").data)
    assert rss.feed.language == "ru"
    assert [e.title for e in rss.entries] == [russian["title"]]
    assert client.get("/ru/feeds/all.json").get_json()["language"] == "ru"
    kind = feedparser.parse(client.get("/ru/feeds/kind/news.atom").data)
    assert [e.title for e in kind.entries] == [russian["title"]]
    changes = feedparser.parse(client.get("/ru/feeds/changes.atom").data)
    assert [e.title for e in changes.entries] == [f"Опубликовано: {russian['title']}"]


def test_the_root_lists_no_russian_statement(client, pair):
    english, russian = pair
    for path in ("/", "/messages"):
        text = client.get(path).get_data(as_text=True)
        assert english["title"] in text and russian["title"] not in text, path
    for path in ("/feeds/all.atom", "/feeds/all.rss", "/feeds/kind/news.atom"):
        titles = [e.title for e in feedparser.parse(client.get(path).data).entries]
        assert titles == [english["title"]], path


def test_atom_entries_link_their_translations_with_hreflang(client, pair):
    _, russian = pair
    atom = etree.fromstring(client.get("/feeds/all.atom").data)
    (entry,) = atom.findall(f"{ATOM}entry")
    links = entry.findall(f"{ATOM}link[@hreflang]")
    assert [(link.get("hreflang"), link.get("href")) for link in links] == [
        ("ru", f"http://localhost/statements/{russian['slug']}")
    ]
    assert (
        feedparser.parse(etree.tostring(atom))
        .entries[0]
        .link.endswith("/statements/comment")
    )


def test_the_russian_messages_page_speaks_russian(client, pair):
    html = page(client, "/ru/messages")
    assert html.get("lang") == "ru"
    assert html.xpath("//h1")[0].text_content() == "Все сообщения"
    assert "Страница 1 из 1" in html.text_content()
    assert html.xpath("//main//li[a]")[0].get("lang") is None  # the page's language
    switch = {
        a.get("hreflang"): a.get("href")
        for a in html.xpath("//nav[@class='languages']//a")
    }
    assert switch == {"en": "/messages"}
    english = page(client, "/messages")
    assert english.get("lang") == "en"
    assert {a.get("href") for a in english.xpath("//nav[@class='languages']//a")} == {
        "/ru/messages"
    }


def test_the_front_page_date_is_in_the_page_language(client, pair):
    russian_date = page(client, "/ru/").xpath("//p[@class='date']")[0].text_content()
    english_date = page(client, "/").xpath("//p[@class='date']")[0].text_content()
    assert russian_date.replace("\u202f", " ").endswith(" г.")
    assert english_date.split()[1][0].isupper()  # e.g. 18 October 2018


def test_dates_of_18_october_2018_in_english_and_russian(services):
    app = create_app(services=services)
    moment = datetime(2018, 10, 18, 12, tzinfo=UTC)
    long_date = app.jinja_env.filters["long_date"]
    for language, expected in (("en", "18 October 2018"), ("ru", "18 октября 2018 г.")):
        with app.test_request_context("/"):
            g.page_language = language
            assert long_date(moment).replace("\u202f", " ") == expected


def test_a_language_outside_the_list_is_a_422(client, publisher):
    response = client.post(
        "/api/statements",
        json={"title": "Erklärung", "body": "Text.", "kind": "news", "language": "de"},
        headers=publisher,
    )
    assert response.status_code == 422
    assert response.get_json()["type"].endswith("/problems/unknown-language")
    assert client.get("/de/messages").status_code == 404


def test_a_major_amendment_flags_the_other_translations(desk, pair):
    english, russian = pair
    amended = desk.amend(english, body="In English, corrected.", change_note="Fixed")
    assert amended["translations"]["ru"]["possibly_out_of_date"] is True
    minor = desk.amend(amended, body="In English, corrected!", minor=True)
    assert minor["translations"]["ru"]["possibly_out_of_date"] is True
    desk.amend(russian, body="По-русски, исправлено.", change_note="Исправлено")
    english_now = desk.client.get(
        f"/api/statements/{english['id']}", headers=desk.headers
    ).get_json()
    assert english_now["translations"]["ru"]["possibly_out_of_date"] is False


def test_a_russian_change_leaves_the_english_feed_bytes_and_etag(desk, client, pair):
    _, russian = pair
    before = client.get("/feeds/all.atom")
    ru_before = client.get("/ru/feeds/all.atom")
    desk.amend(russian, body="Новый текст.", change_note="Уточнено")
    after = client.get("/feeds/all.atom")
    assert after.data == before.data
    assert after.headers["ETag"] == before.headers["ETag"]
    ru_after = client.get("/ru/feeds/all.atom")
    assert ru_after.headers["ETag"] != ru_before.headers["ETag"]
    revalidated = client.get(
        "/ru/feeds/all.atom", headers={"If-None-Match": ru_before.headers["ETag"]}
    )
    assert revalidated.status_code == 200


def test_websub_pings_each_language_feeds_at_their_own_urls():
    urls = feed_urls(FeedScope(language="ru"), "http://x", ("ru",))
    assert urls == [
        "http://x/ru/feeds/all.atom",
        "http://x/ru/feeds/all.json",
        "http://x/ru/feeds/all.rss",
    ]
    assert feed_urls(FeedScope(language="en"), "http://x", ("ru",))[0] == (
        "http://x/feeds/all.atom"
    )
    assert feed_urls(FeedScope("changes", "", "ru"), "http://x", ("ru",)) == [
        "http://x/ru/feeds/changes.atom"
    ]


def test_unlinking_removes_the_links_from_both_pages(desk, client, publisher, pair):
    _, russian = pair
    response = client.delete(
        f"/api/statements/{russian['id']}/translation", headers=publisher
    )
    assert response.status_code == 200
    assert response.get_json()["translations"] == {}
    desk.settle()
    html = page(client, "/statements/comment")
    assert html.xpath("//head/link[@hreflang]") == []


def test_the_api_etag_moves_when_a_translation_changes_what_it_says(
    desk, client, publisher, pair
):
    """The answer says its translations' status: a conditional GET must not
    keep a copy that says otherwise, though this statement's version stayed."""
    english, russian = pair

    def fetch(statement, tag=None):
        headers = {**publisher, **({"If-None-Match": tag} if tag else {})}
        return client.get(f"/api/statements/{statement['id']}", headers=headers)

    first = fetch(english)
    tag = first.headers["ETag"]
    assert tag.startswith(f'"{english["version"]}.')
    assert fetch(english, tag).status_code == 304
    desk.retract(russian)
    after = fetch(english, tag)
    assert (
        after.status_code == 200 and after.get_json()["version"] == english["version"]
    )
    assert after.get_json()["translations"]["ru"]["status"] == "retracted"
    assert after.headers["ETag"] != tag
    amended = client.post(
        f"/api/statements/{english['id']}/amendments",
        json={"body": "Still in English.", "change_note": "Typo", "minor": True},
        headers={**publisher, "If-Match": after.headers["ETag"]},
    )
    assert amended.status_code == 200, amended.get_json()  # If-Match takes it whole
    stale = client.post(
        f"/api/statements/{english['id']}/amendments",
        json={"body": "Too late.", "change_note": "Typo", "minor": True},
        headers={**publisher, "If-Match": after.headers["ETag"]},
    )
    assert stale.status_code == 412
    assert stale.headers["ETag"] == fetch(english).headers["ETag"]  # the whole one


@pytest.mark.parametrize("change", ["withdraw", "unlink"])
def test_a_page_whose_translation_goes_is_modified_later_never_earlier(
    desk, client, publisher, pair, change
):
    """Its hreflang link goes: If-Modified-Since must not keep the copy."""
    _, russian = pair
    time.sleep(1.1)  # a stamp is not sent before its second has come
    before = client.get("/statements/comment")
    time.sleep(1.1)  # Last-Modified is whole seconds
    if change == "withdraw":
        desk.retract(russian)
    else:
        client.delete(f"/api/statements/{russian['id']}/translation", headers=publisher)
    desk.settle()
    time.sleep(1.1)  # a stamp is not sent before its second has come
    after = client.get(
        "/statements/comment",
        headers={"If-Modified-Since": before.headers["Last-Modified"]},
    )
    assert after.status_code == 200
    assert lxml.html.fromstring(after.data).xpath("//head/link[@hreflang]") == []
    assert parsedate_to_datetime(after.headers["Last-Modified"]) > (
        parsedate_to_datetime(before.headers["Last-Modified"])
    )


def test_the_russian_feeds_say_their_own_words_in_russian(desk, client, pair):
    """A feed's interface language is its prefix's: the notices and titles it
    makes around the statements too, not only its pages'."""
    _, russian = pair
    desk.retract(russian, reason="Ошибка")
    feed = feedparser.parse(client.get("/ru/feeds/all.atom").data)
    [entry] = [e for e in feed.entries if "Комментарий" in e.title]
    assert entry.title == "Отозвано: Комментарий посольства"
    assert "Это заявление отозвано" in entry.content[0].value
    assert "Причина: Ошибка" in entry.content[0].value
    assert "Withdrawn" not in client.get("/ru/feeds/all.atom").get_data(as_text=True)
    changes = feedparser.parse(client.get("/ru/feeds/changes.atom").data)
    titles = [e.title for e in changes.entries]
    assert "Опубликовано: Комментарий посольства" in titles
    assert "Отозвано: Комментарий посольства" in titles
    assert changes.feed.subtitle.startswith("Официальные заявления: ")
    english_feed = client.get("/feeds/changes.atom").get_data(as_text=True)
    assert "Published: Embassy comment" in english_feed


def test_the_audit_shows_the_link_to_the_translations(client, auditor, pair):
    english, russian = pair
    for statement, of in ((english, english), (russian, english)):
        history = client.get(
            f"/audit/statements/{statement['id']}", headers=auditor
        ).get_json()["events"]
        linked = history[-1]
        assert linked["type"] == "LinkedToTranslations"
        assert linked["actor"] == "press-office"
        assert linked["fields"] == {"translation_group": {"from": None, "to": of["id"]}}


def test_a_withdrawn_statement_takes_no_translation_and_stays_unchanged(
    desk, client, publisher, pair
):
    original = desk.retract(desk.create(title="Consulate closed", slug="closed"))
    grouped = desk.retract(pair[0])
    recorder = desk.services.press_office.recorder
    recorded = recorder.max_notification_id()
    for target in ("closed", grouped["slug"]):
        response = client.post(
            "/api/statements",
            json={
                "title": "Консульство закрыто",
                "body": "Текст.",
                "kind": "news",
                "language": "ru",
                "translation_of": target,
            },
            headers=publisher,
        )
        assert response.status_code == 409
        assert response.content_type == "application/problem+json"
        assert response.get_json()["type"].endswith("/retracted")
    for statement in (original, grouped):
        now = client.get(f"/api/statements/{statement['id']}", headers=publisher)
        assert now.get_json()["version"] == statement["version"]
    unlink = client.delete(
        f"/api/statements/{grouped['id']}/translation", headers=publisher
    )
    assert unlink.status_code == 409
    assert recorder.max_notification_id() == recorded  # nothing was recorded


@pytest.mark.parametrize(
    "hidden", [{"draft": True}, {"publish_at": "2099-01-01T10:00:00Z"}]
)
def test_a_hidden_translation_moves_no_public_date_until_it_is_published(
    desk, client, services, hidden
):
    """Preparing a translation under embargo is not told by any date readers
    poll (the sitemap, a page's Last-Modified, the lists and feeds)."""
    english = desk.create(title="Embassy comment", body="In English.", slug="comment")
    time.sleep(1.1)  # a stamp is not sent before its second has come
    paths = ("/statements/comment", "/messages", "/feeds/all.atom", "/sitemap.xml")

    def dates() -> dict[str, object]:
        seen: dict[str, object] = {
            p: client.get(p).headers.get("Last-Modified") for p in paths
        }
        seen["lastmod"] = etree.fromstring(client.get("/sitemap.xml").data).findtext(
            ".//{*}lastmod"
        )
        seen["stamp"] = services.views.public_stamp()
        return seen

    before = dates()
    russian = desk.create(
        title="Комментарий", body="По-русски.", language="ru",
        translation_of="comment", **hidden,
    )  # fmt: skip
    time.sleep(1.1)
    assert dates() == before
    # Nor by a version of its own: the original's joining shows nothing new.
    assert client.get("/statements/comment/versions/3").status_code == 404
    now = format_datetime(datetime.now(UTC), usegmt=True)
    gate = client.get("/statements/comment", headers={"Accept-Datetime": now})
    assert gate.headers["Content-Location"] == "/statements/comment/versions/2"
    if "draft" in hidden:
        client.post(
            f"/api/statements/{russian['id']}/publication", headers=desk.headers
        )
        desk.settle()
        time.sleep(1.1)
        page = client.get("/statements/comment")
        assert parsedate_to_datetime(page.headers["Last-Modified"]) > (
            parsedate_to_datetime(before["/statements/comment"])
        )
        assert lxml.html.fromstring(page.data).xpath("//head/link[@hreflang='ru']")
    assert english["version"] == 2


def test_each_front_page_names_itself_as_canonical(client, pair):
    """Not the English one: search engines would drop the Russian front page."""
    for path in ("/", "/ru/"):
        (link,) = page(client, path).xpath("//head/link[@rel='canonical']/@href")
        assert link == f"http://localhost{path}", path


def test_feed_titles_name_the_kind_and_the_changes_in_the_feeds_language(client, pair):
    site = client.application.extensions["pressfeed"].settings.site_title
    titles = {
        path: feedparser.parse(client.get(path).data).feed.title
        for path in (
            "/feeds/kind/news.atom",
            "/ru/feeds/kind/news.atom",
            "/ru/feeds/changes.atom",
        )
    }
    assert titles == {
        "/feeds/kind/news.atom": f"{site}: News",
        "/ru/feeds/kind/news.atom": f"{site}: Новости",
        "/ru/feeds/changes.atom": f"{site}: изменения",
    }


def test_search_speaks_the_prefixs_language(client, pair):
    """/ru/search: a Russian page whose form, links and feed stay under /ru/;
    each result's title and text say their own language, the kind link goes
    to the list of that language."""
    tree = page(client, "/ru/search?q=comment")
    assert tree.get("lang") == "ru"
    assert tree.xpath("//h1")[0].text_content() == "Поиск"
    assert tree.xpath("//header//form/@action") == ["/ru/search"]
    assert tree.xpath("//main//form/@action") == ["/ru/search"]
    (result,) = tree.cssselect(".results li")
    assert result.xpath(".//h2//span/@lang") == ["en"]
    assert result.cssselect("a.kind")[0].get("href") == "/messages?kind=news"
    feed = "/ru/feeds/search.atom?q=comment"
    assert feed in tree.xpath("//head/link[@type='application/atom+xml']/@href")
    atom = feedparser.parse(client.get(feed).data)
    assert atom.feed.title.endswith(": поиск comment")
    assert [e.title for e in atom.entries] == ["Embassy comment"]
    assert page(client, "/search?q=comment").xpath("//header//form/@action") == [
        "/search"
    ]


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/ru/messages?page=99", "Не найдено"),
        ("/ru/messages?kind=bogus", "Неверный фильтр"),
        ("/ru/messages?page=abc", "Неверный номер страницы"),
    ],
)
def test_an_error_page_under_a_prefix_speaks_its_language(client, pair, path, title):
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code in (400, 404)
    tree = lxml.html.fromstring(response.data)
    assert tree.get("lang") == "ru"
    assert tree.xpath("//main/h1")[0].text_content() == title
    assert tree.xpath("//main//a[@href='/ru/']")  # back to its own front page
