"""Translations: statements in several languages linked into a group, one per
language, the link and the unlink events of the statements themselves."""

from __future__ import annotations

import threading

import pytest

from pressfeed import application
from pressfeed.aggregates import NotATranslation, StatementRetracted, TranslationTaken
from pressfeed.application import (
    ImportRefused,
    NewStatement,
    PressOffice,
    UnknownLanguage,
    UnknownOriginal,
)

LANGUAGES = ("en", "fr", "ru")


@pytest.fixture
def office(settings):
    app = PressOffice(env=settings.eventsourcing_env(), languages=LANGUAGES)
    yield app
    app.close()


def create(office, title="Visa hours", language="en", **fields):
    new = NewStatement(
        title=title, body="Text.", kind="news", language=language, **fields
    )
    return office.create_statement(new, actor="press-office").statement


def test_a_language_the_office_does_not_publish_in_is_refused(office):
    with pytest.raises(UnknownLanguage):
        create(office, language="de")


def test_a_translation_joins_the_group_of_its_original(office):
    original = create(office)
    french = create(office, "Horaires des visas", "fr", translation_of=original.slug)
    russian = create(office, "Часы работы", "ru", translation_of=str(french.id))
    original = office.get_statement(original.id)
    assert original.translation_group == original.id
    assert french.translation_group == russian.translation_group == original.id
    assert russian.slug == "chasy-raboty"
    assert {s.language for s in office.translations(original)} == {"fr", "ru"}


def test_the_link_is_an_event_of_each_statement(office):
    original = create(office)
    french = create(office, "Horaires", "fr", translation_of=original.slug)
    names = [
        type(event).__name__ for event in office.repository.event_store.get(french.id)
    ]
    assert names == ["Drafted", "Published", "LinkedToTranslations"]
    original_names = [
        type(event).__name__ for event in office.repository.event_store.get(original.id)
    ]
    assert original_names[-1] == "LinkedToTranslations"


def test_one_statement_per_language_per_group(office):
    original = create(office)
    with pytest.raises(TranslationTaken):
        create(office, "Visa hours (en)", "en", translation_of=original.slug)
    create(office, "Horaires", "fr", translation_of=original.slug)
    with pytest.raises(TranslationTaken):
        create(office, "Horaires bis", "fr", translation_of=original.slug)
    with pytest.raises(TranslationTaken):
        create(office, "Visa hours again", "en", translation_of=original.slug)


def test_translation_of_an_unknown_statement_is_refused(office):
    with pytest.raises(UnknownOriginal):
        create(office, "Horaires", "fr", translation_of="no-such-statement")


def test_unlinking_frees_the_language_for_another_translation(office):
    original = create(office)
    french = create(office, "Horaires", "fr", translation_of=original.slug)
    office.unlink_translation(french.id, actor="press-office")
    assert office.get_statement(french.id).translation_group is None
    assert office.translations(office.get_statement(original.id)) == []
    again = create(office, "Horaires (nouveau)", "fr", translation_of=original.slug)
    assert [s.id for s in office.translations(office.get_statement(original.id))] == [
        again.id
    ]
    with pytest.raises(NotATranslation):
        office.unlink_translation(french.id, actor="press-office")


def test_concurrent_translations_into_one_language_make_one(office):
    original = create(office)
    results: list[object] = []

    def translate(n: int) -> None:
        try:
            results.append(
                create(office, f"Horaires {n}", "fr", translation_of=original.slug)
            )
        except TranslationTaken as error:
            results.append(error)

    threads = [threading.Thread(target=translate, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [r for r in results if not isinstance(r, Exception)]
    assert len(created) == 1
    assert len(results) == 4
    assert [s.id for s in office.translations(office.get_statement(original.id))] == [
        created[0].id  # type: ignore[attr-defined]
    ]


def test_an_import_links_translations_by_slug_within_it(office):
    lines = [
        NewStatement(title="Visa hours", body="Text.", kind="news", slug="visa-hours"),
        NewStatement(
            title="Horaires",
            body="Texte.",
            kind="news",
            language="fr",
            translation_of="visa-hours",
        ),
    ]
    english, french = office.import_statements(lines, actor="import")
    assert french.translation_group == english.id
    assert [s.id for s in office.translations(office.get_statement(english.id))] == [
        french.id
    ]
    again = [
        NewStatement(
            title="Horaires 2",
            body="Texte.",
            kind="news",
            language="fr",
            translation_of="visa-hours",
        )
    ]
    with pytest.raises(ImportRefused):
        office.import_statements(again, actor="import")


def test_same_title_in_two_languages_gets_two_slugs(office):
    english = create(office, "Brexit")
    french = create(office, "Brexit", "fr", translation_of=english.slug)
    assert english.slug != french.slug


def test_an_import_refuses_a_translation_of_a_withdrawn_statement(office):
    original = create(office, slug="visa-hours")
    office.retract(
        original.id, expected_version=None, reason="In error", actor="press-office"
    )
    recorded = office.recorder.max_notification_id()
    line = NewStatement(
        title="Horaires", body="Texte.", kind="news", language="fr",
        translation_of="visa-hours",
    )  # fmt: skip
    with pytest.raises(ImportRefused) as refused:
        office.import_statements([line], actor="import")
    assert isinstance(refused.value.error, StatementRetracted)
    assert office.recorder.max_notification_id() == recorded


def test_an_import_resumed_after_a_crash_links_an_original_saved_after_its_translation(
    office, monkeypatch
):
    """The French line comes first and is saved in the first chunk; the English
    original it names comes later. A crash between the chunks, then the same
    import again: both are linked, as an import run at once links them."""
    monkeypatch.setattr(application, "SAVE_CHUNK", 1)
    lines = [
        NewStatement(
            title="Horaires", body="Texte.", kind="news", language="fr",
            translation_of="visa-hours",
        ),
        NewStatement(title="Visa hours", body="Text.", kind="news", slug="visa-hours"),
    ]  # fmt: skip
    insert = office.recorder.insert_events
    writes = 0

    def crash_on_the_second_chunk(stored, **kwargs):
        nonlocal writes
        writes += 1
        if writes == 2:
            raise OSError("the process dies")
        return insert(stored, **kwargs)

    monkeypatch.setattr(office.recorder, "insert_events", crash_on_the_second_chunk)
    with pytest.raises(OSError):
        office.import_statements(lines, actor="import")
    monkeypatch.setattr(office.recorder, "insert_events", insert)
    (english,) = office.import_statements(lines, actor="import")
    english = office.get_statement(english.id)
    assert english.translation_group == english.id
    (french,) = office.translations(english)
    assert french.title == "Horaires" and french.translation_group == english.id
    assert [s.id for s in office.translations(french)] == [english.id]
