"""Settings from the environment: SQLite URLs read as SQLAlchemy reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pressfeed.config import Settings, sqlite_env


def settings_for(url: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {"PRESSFEED_DATABASE_URL": url, "PRESSFEED_INSTANCE_DIR": str(tmp_path)}
    )


def test_three_slashes_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = settings_for("sqlite:///data/pf.db", tmp_path)
    env = sqlite_env(settings.database_url)
    assert env["SQLITE_DBNAME"] == str(tmp_path / "data" / "pf.db")
    assert (tmp_path / "data").is_dir()


def test_four_slashes_are_an_absolute_path(tmp_path):
    settings = settings_for(f"sqlite:///{tmp_path}/abs/pf.db", tmp_path)
    assert sqlite_env(settings.database_url)["SQLITE_DBNAME"] == str(
        tmp_path / "abs" / "pf.db"
    )


def test_the_default_store_is_in_the_instance_folder(tmp_path):
    settings = Settings.from_env({"PRESSFEED_INSTANCE_DIR": str(tmp_path)})
    assert sqlite_env(settings.database_url)["SQLITE_DBNAME"] == str(
        tmp_path / "pressfeed.db"
    )


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///",
        "sqlite://host/pf.db",
        "sqlite:///:memory:",
        "sqlite:///pf.db?mode=ro",
        "mysql://db/pf",
    ],
)
def test_urls_it_cannot_read_are_refused(tmp_path, url):
    with pytest.raises(ValueError, match="Unsupported SQLite URL"):
        settings_for(url, tmp_path)


def test_languages_are_bcp_47_tags_the_first_the_default():
    settings = Settings.from_env({"PRESSFEED_LANGUAGES": " en, fr ,ru,fr"})
    assert settings.languages == ("en", "fr", "ru")
    assert settings.default_language == "en"
    assert settings.other_languages == ("fr", "ru")
    assert Settings.from_env({}).languages == ("en",)
    assert Settings.from_env({"PRESSFEED_LANGUAGE": "fr"}).languages == ("fr",)
    with pytest.raises(ValueError, match="BCP 47"):
        Settings.from_env({"PRESSFEED_LANGUAGES": "en,../x"})


def test_date_formats_per_language():
    settings = Settings.from_env(
        {"PRESSFEED_DATE_FORMATS": "fr=%d/%m/%Y", "PRESSFEED_LANGUAGES": "en,fr"}
    )
    assert settings.date_format_of("fr") == "%d/%m/%Y"
    assert settings.date_format_of("en") == "%d.%m.%Y"
    assert settings.long_date_format_of("en") == "d MMMM y"
    assert settings.long_date_format_of("fr") == "long"
