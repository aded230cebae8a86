"""The interface's catalogs: every string the site marks for translation is in
the en, fr and ru catalogs, translated (fr, ru), and compiled by the install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "src" / "pressfeed" / "translations"
PYBABEL = str(Path(sys.executable).parent / "pybabel")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str]:
    """The msgids pybabel extracts from the code and the templates now."""
    pot = tmp_path_factory.mktemp("catalogs") / "messages.pot"
    subprocess.run(
        [
            PYBABEL,
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            "src/pressfeed",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as file:
        return {message.id for message in read_po(file) if message.id}


def catalog(language: str):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return read_po(file, locale=language)


@pytest.mark.parametrize("language", ["en", "fr", "ru"])
def test_each_catalog_holds_every_string_of_the_interface(extracted, language):
    messages = {message.id for message in catalog(language) if message.id}
    assert extracted - messages == set(), "run make catalogs, then translate"
    assert extracted, "nothing extracted: is babel.cfg right?"


@pytest.mark.parametrize("language", ["en", "fr", "ru"])
def test_no_catalog_holds_a_guessed_translation(language):
    """pybabel's fuzzy matches are guesses ("Search" as "speech"): never kept."""
    assert [m.id for m in catalog(language) if m.id and m.fuzzy] == []


@pytest.mark.parametrize("language", ["fr", "ru"])
def test_every_string_is_translated(language):
    empty = [m.id for m in catalog(language) if m.id and not m.string]
    fuzzy = [m.id for m in catalog(language) if m.id and m.fuzzy]
    assert empty == [] and fuzzy == []


@pytest.mark.parametrize("language", ["en", "fr", "ru"])
def test_the_install_compiled_each_catalog(language):
    po = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    assert mo.exists(), "make install compiles the catalogs"
    assert mo.stat().st_mtime >= po.stat().st_mtime, "make install again"


@pytest.mark.parametrize("language", ["en", "fr", "ru"])
def test_the_compiled_catalog_holds_what_its_source_says(language):
    """The .mo files are in the repository (a plain pip install of a checkout
    compiles nothing): each must be its .po, compiled."""
    from babel.messages.mofile import read_mo

    po = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    with po.with_suffix(".mo").open("rb") as compiled:
        held = {as_tuple(m.id): as_tuple(m.string) for m in read_mo(compiled) if m.id}
    for message in catalog(language):
        if message.id and any(as_tuple(message.string)):
            said = as_tuple(message.string)
            assert held.get(as_tuple(message.id)) == said, message.id


def as_tuple(text: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """A message's id or string; plural ones are several."""
    return (text,) if isinstance(text, str) else tuple(text)
