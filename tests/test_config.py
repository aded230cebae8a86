"""Settings from the environment: SQLite URLs read as SQLAlchemy reads them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pressfeed.config import (
    InstanceEnvError,
    Settings,
    keep_instance_env,
    sqlite_env,
)


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
    ],
)
def test_urls_it_cannot_read_are_refused(tmp_path, url):
    with pytest.raises(ValueError, match="Unsupported SQLite URL"):
        settings_for(url, tmp_path)


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("PRESSFEED_DATABASE_URL", "mysql://db/pf", "use sqlite:///... or postgresql"),
        ("PRESSFEED_POLL_INTERVAL", "0", "at least 0.001"),
        ("PRESSFEED_POLL_INTERVAL", "-1", "at least"),
        ("PRESSFEED_POLL_INTERVAL", "abc", "is not a number"),
        ("PRESSFEED_POLL_INTERVAL", "nan", "at least"),
        ("PRESSFEED_MAX_REQUEST_BYTES", "1MB", "is not a whole number"),
        ("PRESSFEED_PROXY_HOPS", "-1", "at least 0"),
        ("PRESSFEED_CHECKPOINT_SECONDS", "x", "is not a number"),
        ("PRESSFEED_SECOND_PAIR_OF_EYES", "ja", "say true or false"),
        ("PRESSFEED_BASE_URL", "press.example.org", "an address such as"),
        ("PRESSFEED_TIMEZONE", "Europe/Pariss", "no time zone"),
        ("PRESSFEED_TIMEZONE", "Europe", "no time zone"),
        ("PRESSFEED_CLOCKS", "Paris", "no time zone"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(tmp_path, name, value, said):
    """Not a traceback, nor a value read as something else: a safeguard
    misspelt must not be off, a poll interval of 0 must not spin a core."""
    with pytest.raises(ValueError, match=name) as refused:
        Settings.from_env({"PRESSFEED_INSTANCE_DIR": str(tmp_path), name: value})
    assert said in str(refused.value)


def test_an_empty_base_url_is_as_none(tmp_path):
    settings = Settings.from_env(
        {"PRESSFEED_INSTANCE_DIR": str(tmp_path), "PRESSFEED_BASE_URL": ""}
    )
    assert settings.base_url == "http://127.0.0.1:5000"
    assert not settings.base_url_configured


def test_an_unknown_database_url_parameter_is_refused(tmp_path):
    url = "postgresql://postgres@127.0.0.1/test?scheme=mine"  # schema misspelt
    with pytest.raises(ValueError, match="unknown parameter scheme"):
        Settings.from_env(
            {"PRESSFEED_INSTANCE_DIR": str(tmp_path), "PRESSFEED_DATABASE_URL": url}
        ).eventsourcing_env()


@pytest.mark.parametrize(
    ("value", "on"),
    [("on", True), ("YES", True), ("1", True), ("off", False), ("", False)],
)
def test_yes_or_no_settings_take_the_usual_words(tmp_path, value, on):
    settings = Settings.from_env(
        {
            "PRESSFEED_INSTANCE_DIR": str(tmp_path),
            "PRESSFEED_SECOND_PAIR_OF_EYES": value,
        }
    )
    assert settings.second_pair_of_eyes is on


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


def test_settings_kept_in_the_instance_folder_are_read_and_the_environment_wins(
    tmp_path,
):
    assert keep_instance_env(
        tmp_path,
        {
            "PRESSFEED_TIMEZONE": "Europe/Paris",
            "PRESSFEED_LANGUAGES": "en,fr",
            "PRESSFEED_CONTACT": "Press Office\nTel. 1",
        },
    )
    assert stat.S_IMODE((tmp_path / "pressfeed.env").stat().st_mode) == 0o600
    kept = Settings.from_env({"PRESSFEED_INSTANCE_DIR": str(tmp_path)})
    assert str(kept.timezone) == "Europe/Paris"
    assert kept.languages == ("en", "fr")
    assert kept.contact == "Press Office\nTel. 1"
    overridden = Settings.from_env(
        {"PRESSFEED_INSTANCE_DIR": str(tmp_path), "PRESSFEED_TIMEZONE": "UTC"}
    )
    assert str(overridden.timezone) == "UTC"
    assert not keep_instance_env(tmp_path, {"PRESSFEED_TIMEZONE": "Asia/Tbilisi"})
    assert str(
        Settings.from_env({"PRESSFEED_INSTANCE_DIR": str(tmp_path)}).timezone
    ) == ("Europe/Paris")  # an existing file is never overwritten


@pytest.mark.parametrize(
    "line", ["TIMEZONE=UTC", "PRESSFEED_TIMEZONE UTC", "PRESSFEED_INSTANCE_DIR=/srv"]
)
def test_a_kept_line_that_is_no_setting_is_refused_with_its_place(tmp_path, line):
    (tmp_path / "pressfeed.env").write_text(f"# comment\n\n{line}\n")
    (tmp_path / "pressfeed.env").chmod(0o600)
    with pytest.raises(InstanceEnvError, match=r"pressfeed.env:3: not a PRESSFEED"):
        Settings.from_env({"PRESSFEED_INSTANCE_DIR": str(tmp_path)})


def test_a_kept_setting_yields_to_the_environment_under_either_of_its_names(
    tmp_path,
):
    (tmp_path / "pressfeed.env").write_text(
        "\ufeffPRESSFEED_LANGUAGES=en,fr\r\nPRESSFEED_SITE_TITLE='Embassy'\r\n"
    )
    (tmp_path / "pressfeed.env").chmod(0o600)
    env = {"PRESSFEED_INSTANCE_DIR": str(tmp_path)}
    kept = Settings.from_env(env)
    assert kept.languages == ("en", "fr") and kept.site_title == "Embassy"
    assert Settings.from_env({**env, "PRESSFEED_LANGUAGE": "fr"}).languages == ("fr",)


def test_only_a_process_or_a_named_instance_folder_reads_the_kept_settings(
    tmp_path, monkeypatch
):
    keep_instance_env(tmp_path / "instance", {"PRESSFEED_TIMEZONE": "Europe/Paris"})
    monkeypatch.chdir(tmp_path)
    assert str(Settings.from_env({}).timezone) == "UTC"  # a test's own settings
    monkeypatch.setattr(os, "environ", {})
    assert str(Settings.from_env().timezone) == "Europe/Paris"


def test_a_value_with_line_breaks_is_kept_on_one_line(tmp_path):
    keep_instance_env(tmp_path, {"PRESSFEED_CONTACT": "Press Office\r\nTel. 1\rFax"})
    kept = Settings.from_env({"PRESSFEED_INSTANCE_DIR": str(tmp_path)})
    assert kept.contact == "Press Office\nTel. 1\nFax"


def test_kept_settings_others_may_write_or_that_are_no_file_are_refused(tmp_path):
    env = {"PRESSFEED_INSTANCE_DIR": str(tmp_path)}
    (tmp_path / "pressfeed.env").write_text("PRESSFEED_TIMEZONE=UTC\n")
    (tmp_path / "pressfeed.env").chmod(0o666)
    with pytest.raises(InstanceEnvError, match="others may write it"):
        Settings.from_env(env)
    (tmp_path / "pressfeed.env").unlink()
    (tmp_path / "pressfeed.env").mkdir()
    with pytest.raises(InstanceEnvError, match=r"pressfeed\.env: \[Errno"):
        Settings.from_env(env)
