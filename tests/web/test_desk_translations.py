"""The desk's new-statement form links a translation; the statement page lists
the translations and flags them possibly out of date after a major amendment."""

from __future__ import annotations

from uuid import UUID

import pytest

from pressfeed.web import create_app
from tests.conftest import make_settings
from tests.web.test_desk_pages import PASSWORD, Officer, compose, statement_id_of


@pytest.fixture
def office(tmp_path):
    from pressfeed.assembly import Pressfeed

    services = Pressfeed(make_settings(tmp_path, PRESSFEED_LANGUAGES="en,fr"))
    services.attach_worker(services.projection_worker()).start()
    services.people.create("paul", "publisher", PASSWORD)
    app = create_app(services=services)
    yield app, services
    services.close()


def test_a_publisher_composes_a_translation_and_sees_it_flagged(office):
    app, services = office
    paul = Officer(app, "paul")
    form = paul.get("/desk/statements/new").get_data(as_text=True)
    assert 'name="translation_of"' in form
    assert '<option value="fr">' in form
    english_id, french_id = english_and_french(
        paul, "Consular hours", "Horaires du consulat"
    )
    french = services.press_office.get_statement(UUID(french_id))
    assert french.translation_group == UUID(english_id)
    page = paul.get(f"/desk/statements/{english_id}").get_data(as_text=True)
    assert f'href="/desk/statements/{french_id}"' in page
    assert "possibly out of date" not in page
    french_page = paul.get(f"/desk/statements/{french_id}").get_data(as_text=True)
    assert 'name="title" lang="fr"' in french_page  # read and spell-checked as French

    english = services.press_office.get_statement(UUID(english_id))
    services.press_office.amend(
        english.id,
        expected_version=english.version,
        changes={"body": "New hours from Monday."},
        change_note="New hours",
        minor=False,
        actor="paul",
    )
    page = paul.get(f"/desk/statements/{english_id}").get_data(as_text=True)
    assert "possibly out of date: this statement had a major amendment since" in page
    page = paul.get(f"/desk/statements/{french_id}").get_data(as_text=True)
    assert "Possibly out of date: the English translation had a major amendment" in page

    refused = compose(
        paul, "publish", title="Autre", language="fr", translation_of="consular-hours"
    )
    assert refused.status_code == 422
    assert "already" in refused.get_data(as_text=True)


def english_and_french(paul: Officer, title: str, titre: str) -> tuple[str, str]:
    """Ids of an English statement and of its French translation, published."""
    english_id = statement_id_of(compose(paul, "publish", title=title))
    slug = slug_of(title)
    french = compose(paul, "publish", title=titre, language="fr", translation_of=slug)
    return english_id, statement_id_of(french)


def slug_of(title: str) -> str:
    return title.lower().replace(" ", "-")


def test_withdrawing_names_the_translations_that_stay_published(office):
    app, _ = office
    paul = Officer(app, "paul")
    english_id, french_id = english_and_french(
        paul, "Food fair dates", "Dates du salon"
    )
    asked = paul.post(f"/desk/statements/{english_id}/withdrawal", reason="Wrong dates")
    page = asked.get_data(as_text=True)
    assert "Its translations stay published" in page
    assert f'href="/desk/statements/{french_id}"' in page and "Dates du salon" in page
    done = paul.post(
        f"/desk/statements/{english_id}/withdrawal",
        reason="Wrong dates",
        confirmed="yes",
    )
    assert done.status_code == 303
    page = paul.get(f"/desk/statements/{english_id}").get_data(as_text=True)
    assert "Withdrawn " in page and "Reason: Wrong dates" in page
    assert page.count("<h1") == 1


def test_a_statement_page_offers_to_translate_it_into_each_missing_language(office):
    app, _ = office
    paul = Officer(app, "paul")
    english_id = statement_id_of(compose(paul, "publish", title="Embassy closed"))
    page = paul.get(f"/desk/statements/{english_id}").get_data(as_text=True)
    link = "/desk/statements/new?translation_of=embassy-closed&amp;language=fr"
    assert f'href="{link}"' in page and "Slug: embassy-closed" in page
    form = paul.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert 'name="translation_of" value="embassy-closed"' in form
    assert '<option value="fr" selected>' in form


def test_a_publisher_unlinks_a_translation_from_the_desk(office):
    app, services = office
    paul = Officer(app, "paul")
    english_id, french_id = english_and_french(paul, "Lyon fair", "Foire de Lyon")
    page = paul.get(f"/desk/statements/{french_id}").get_data(as_text=True)
    assert "Unlink from its translations" in page
    unlinked = paul.post(f"/desk/statements/{french_id}/translation/unlink")
    assert unlinked.status_code == 303
    french = services.press_office.get_statement(UUID(french_id))
    assert french.translation_group is None
    page = paul.get(f"/desk/statements/{english_id}").get_data(as_text=True)
    assert f'href="/desk/statements/{french_id}"' not in page
