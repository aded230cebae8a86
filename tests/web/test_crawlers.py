"""For crawlers and sharing: sitemap.xml, robots.txt, canonical links and the
OpenGraph and Twitter card metadata of statement pages; nothing private."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import lxml.etree
import lxml.html
import pytest

from pressfeed.web import crawlers

NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def later(**delta) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


@pytest.fixture
def site(desk):
    public = [desk.create(title=f"Public {i}", body="Text.") for i in range(3)]
    desk.create(title="A draft", draft=True)
    desk.create(title="Embargoed", publish_at=later(days=2))
    gone = desk.create(title="Withdrawn")
    desk.retract(gone)
    return public


def locations(client, path: str = "/sitemap.xml") -> list[str]:
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    tree = lxml.etree.fromstring(response.data)
    assert tree.tag == f"{{{NS['s']}}}urlset"
    assert all(
        datetime.fromisoformat(m.replace("Z", "+00:00"))
        for m in tree.xpath("//s:lastmod/text()", namespaces=NS)
    )
    return tree.xpath("//s:loc/text()", namespaces=NS)


def test_the_sitemap_lists_every_public_statement_and_nothing_else(client, site):
    expected = {f"http://localhost/statements/{s['slug']}" for s in site}
    found = locations(client)
    assert len(found) == len(expected) and set(found) == expected


def test_past_the_limit_the_sitemap_is_an_index(client, site, monkeypatch):
    monkeypatch.setattr(crawlers, "SITEMAP_URLS", 2)
    response = client.get("/sitemap.xml")
    tree = lxml.etree.fromstring(response.data)
    assert tree.tag == f"{{{NS['s']}}}sitemapindex"
    parts = tree.xpath("//s:sitemap/s:loc/text()", namespaces=NS)
    assert parts == [
        "http://localhost/sitemaps/1.xml",
        "http://localhost/sitemaps/2.xml",
    ]
    found = [loc for n in (1, 2) for loc in locations(client, f"/sitemaps/{n}.xml")]
    assert sorted(found) == sorted(
        f"http://localhost/statements/{s['slug']}" for s in site
    )
    assert client.get("/sitemaps/3.xml").status_code == 404


def test_robots_txt_points_to_the_sitemap(client):
    response = client.get("/robots.txt")
    assert response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert "Sitemap: http://localhost/sitemap.xml" in lines
    assert "Disallow: /desk/" in lines


def test_statement_pages_carry_canonical_and_sharing_metadata(client, desk):
    statement = desk.create(
        title="Remarks <of> the Ambassador",
        body="First paragraph.\n\nSecond.",
        speaker="Ambassador",
        tags=["culture"],
    )
    tree = lxml.html.fromstring(client.get(f"/statements/{statement['slug']}").data)
    url = f"http://localhost/statements/{statement['slug']}"
    assert tree.cssselect("link[rel=canonical]")[0].get("href") == url

    def meta(attribute: str, name: str) -> str:
        return tree.cssselect(f'meta[{attribute}="{name}"]')[0].get("content")

    assert meta("property", "og:title") == "Remarks <of> the Ambassador"
    assert meta("property", "og:url") == url
    assert meta("property", "og:type") == "article"
    assert meta("property", "og:description") == "First paragraph."
    assert meta("name", "twitter:card") == "summary"
    assert meta("name", "twitter:title") == "Remarks <of> the Ambassador"


def test_nothing_private_reaches_the_metadata(client, site):
    for path in ("/sitemap.xml", "/robots.txt", "/"):
        text = client.get(path).get_data(as_text=True)
        for private in ("A draft", "a-draft", "Embargoed", "embargoed", "withdrawn"):
            assert private not in text, (path, private)
    gone = client.get("/statements/withdrawn")
    assert gone.status_code == 410
    assert b"og:title" not in gone.data and b"canonical" not in gone.data
