"""session_events/settings.py: reading EVENTS_* variables into Settings."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from sqlalchemy import make_url

from session_events.db.engine import PostgresDatabase, SqliteDatabase, database_class
from session_events.db.urls import sqlite_file
from session_events.settings import (
    DEFAULT_DATA_FOLDER,
    DEFAULT_DATABASE_URL,
    Settings,
    SettingsError,
    environment_help,
    load_settings,
    normalise_database_url,
)


def refusal(function, argument) -> str:
    """The message of the SettingsError that `function(argument)` raises."""
    with pytest.raises(SettingsError) as caught:
        function(argument)
    return str(caught.value)


# ---------------------------------------------------------------------------------------------
# Defaults


def test_empty_environment_gives_every_default():
    assert load_settings({}) == Settings(
        database_url="sqlite:///.data/events.db",
        read_keys=frozenset(),
        write_keys=frozenset(),
        max_body_bytes=4 * 1024 * 1024,
        auto_migrate=True,
        validate_responses=True,
        log_format="auto",
        log_level="info",
        db_pool_size=10,
        db_pool_timeout=10.0,
    )


def test_default_database_url_is_a_relative_sqlite_file():
    assert DEFAULT_DATABASE_URL == "sqlite:///.data/events.db"


def test_empty_values_count_as_unset():
    names = (
        "EVENTS_DATABASE_URL",
        "EVENTS_MAX_BODY_BYTES",
        "EVENTS_AUTO_MIGRATE",
        "EVENTS_VALIDATE_RESPONSES",
        "EVENTS_LOG_FORMAT",
        "EVENTS_LOG_LEVEL",
        "EVENTS_DB_POOL_SIZE",
        "EVENTS_DB_POOL_TIMEOUT",
    )
    assert load_settings(dict.fromkeys(names, "")) == Settings()


def test_overrides_replace_values_read_from_the_environment():
    settings = load_settings({"EVENTS_DB_POOL_SIZE": "3"}, db_pool_size=7, log_level="debug")
    assert (settings.db_pool_size, settings.log_level) == (7, "debug")


def test_variables_without_the_events_prefix_are_ignored():
    assert load_settings({"DATABASE_URL": "postgresql://h/db", "READ_KEYS": "k"}) == Settings()


# ---------------------------------------------------------------------------------------------
# Keys


def test_keys_are_read_from_a_comma_list():
    settings = load_settings({"EVENTS_READ_KEYS": "a,b", "EVENTS_WRITE_KEYS": "w"})
    assert settings.read_keys == frozenset({"a", "b"})
    assert settings.write_keys == frozenset({"w"})


def test_keys_are_stripped_of_spaces_and_empty_entries_dropped():
    settings = load_settings({"EVENTS_READ_KEYS": " a , ,b,, c ,"})
    assert settings.read_keys == frozenset({"a", "b", "c"})


@pytest.mark.parametrize("name", ["EVENTS_READ_KEYS", "EVENTS_WRITE_KEYS", "EVENTS_CORS_ORIGINS"])
def test_a_list_of_only_commas_and_spaces_is_refused_not_taken_as_unset(name):
    with pytest.raises(SettingsError) as refused:
        load_settings({name: " , ,, "})
    assert str(refused.value) == (
        f"{name} holds no entry (' , ,, '): list them separated by commas, or unset it"
    )


def test_cors_origins_are_taken_as_browsers_send_them():
    listed = "https://dash.example, http://127.0.0.1:5173,*,http://[::1]:8080"
    assert load_settings({"EVENTS_CORS_ORIGINS": listed}).cors_origins == frozenset(
        {"https://dash.example", "http://127.0.0.1:5173", "*", "http://[::1]:8080"}
    )


@pytest.mark.parametrize(
    ("origin", "example"),
    [
        ("dash.example", "https://dash.example"),
        ("https://dash.example/", "https://dash.example"),
        ("https://dash.example/app", "https://dash.example"),
        ("dash.example:8080", "https://dash.example:8080"),
        ("https://dash.example:443", "https://dash.example"),
        ("https://Dash.Example", "https://dash.example"),
    ],
)
def test_a_cors_origin_that_no_browser_sends_is_refused_with_the_form_to_use(origin, example):
    with pytest.raises(SettingsError) as refused:
        load_settings({"EVENTS_CORS_ORIGINS": f"https://ok.example,{origin}"})
    assert str(refused.value) == (
        f"EVENTS_CORS_ORIGINS lists {origin!r}, which is not an origin: write it as a browser "
        f"sends it, scheme and host (and a port if not the default), such as {example}"
    )


def test_spaces_inside_a_key_are_kept():
    assert load_settings({"EVENTS_READ_KEYS": "my key"}).read_keys == frozenset({"my key"})


# ---------------------------------------------------------------------------------------------
# Booleans


@pytest.mark.parametrize("value", ["true", "1", "yes", "on", "TRUE", "Yes"])
def test_true_spellings_are_true(value):
    assert load_settings({"EVENTS_AUTO_MIGRATE": value}).auto_migrate is True


@pytest.mark.parametrize("value", ["false", "0", "no", "off", "FALSE", "No"])
def test_false_spellings_are_false(value):
    assert load_settings({"EVENTS_AUTO_MIGRATE": value}).auto_migrate is False


def test_validate_responses_reads_its_own_variable():
    settings = load_settings({"EVENTS_VALIDATE_RESPONSES": "no"})
    assert (settings.validate_responses, settings.auto_migrate) == (False, True)


@pytest.mark.parametrize(
    ("name", "value"), [("EVENTS_AUTO_MIGRATE", "maybe"), ("EVENTS_VALIDATE_RESPONSES", "2")]
)
def test_junk_boolean_is_refused_naming_the_variable(name, value):
    assert refusal(load_settings, {name: value}) == f"{name} must be true or false, not '{value}'"


def test_settings_error_is_a_value_error():
    assert issubclass(SettingsError, ValueError)


# ---------------------------------------------------------------------------------------------
# Numbers


def test_numbers_are_parsed():
    settings = load_settings(
        {
            "EVENTS_MAX_BODY_BYTES": "1024",
            "EVENTS_DB_POOL_SIZE": "5",
            "EVENTS_DB_POOL_TIMEOUT": "2.5",
        }
    )
    assert (settings.max_body_bytes, settings.db_pool_size, settings.db_pool_timeout) == (
        1024,
        5,
        2.5,
    )


def test_integer_settings_are_ints_and_the_timeout_a_float():
    settings = load_settings({"EVENTS_DB_POOL_SIZE": "5", "EVENTS_DB_POOL_TIMEOUT": "3"})
    assert type(settings.db_pool_size) is int
    assert type(settings.db_pool_timeout) is float


def test_the_minimum_itself_is_accepted():
    settings = load_settings({"EVENTS_MAX_BODY_BYTES": "1", "EVENTS_DB_POOL_TIMEOUT": "1"})
    assert (settings.max_body_bytes, settings.db_pool_timeout) == (1, 1.0)


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("EVENTS_DB_POOL_SIZE", "0", "must be at least 1"),
        ("EVENTS_DB_POOL_TIMEOUT", "0.05", "must be at least 0.1"),
        ("EVENTS_MAX_BODY_BYTES", "-1", "must be at least 1"),
        ("EVENTS_MAX_BODY_BYTES", "4MB", "must be a number"),
        ("EVENTS_DB_POOL_SIZE", "2.5", "must be a number"),
    ],
    ids=[
        "below_the_minimum",
        "fractional_timeout_below_the_minimum",
        "negative_body_limit",
        "non_number",
        "fraction_for_an_integer_setting",
    ],
)
def test_a_bad_number_is_refused_naming_the_variable(name, value, rule):
    assert refusal(load_settings, {name: value}) == f"{name} {rule}, not '{value}'"


# Every number's lower bound, written here apart from the declarations so that a bound dropped
# from one of them fails this test.
BOUNDS = {
    "EVENTS_MAX_BODY_BYTES": ("max_body_bytes", 1),
    "EVENTS_BODY_TIMEOUT_SECONDS": ("body_timeout", 0.1),
    "EVENTS_DB_POOL_SIZE": ("db_pool_size", 1),
    "EVENTS_DB_POOL_TIMEOUT": ("db_pool_timeout", 0.1),
    "EVENTS_STREAM_HEARTBEAT_SECONDS": ("stream_heartbeat_seconds", 0.1),
    "EVENTS_DB_STATEMENT_TIMEOUT": ("db_statement_timeout", 0.1),
    "EVENTS_DB_CONNECT_TIMEOUT": ("db_connect_timeout", 0.1),
    "EVENTS_SHUTDOWN_TIMEOUT": ("shutdown_timeout", 0.1),
    "EVENTS_MAX_EVENTS_PER_BATCH": ("max_events_per_batch", 1),
    "EVENTS_MAX_MESSAGE_LENGTH": ("max_message_length", 1),
    "EVENTS_MAX_EVENT_DATA_BYTES": ("max_event_data_bytes", 1),
    "EVENTS_SESSION_TOMBSTONE_SECONDS": ("session_tombstone_seconds", 60),
}


@pytest.mark.parametrize("name", BOUNDS)
def test_every_number_is_refused_below_its_bound_and_accepted_at_it(name):
    attribute, minimum = BOUNDS[name]
    below = str(minimum - 0.05 if isinstance(minimum, float) else minimum - 1)
    assert (
        refusal(load_settings, {name: below}) == f"{name} must be at least {minimum}, not '{below}'"
    )
    assert getattr(load_settings({name: str(minimum)}), attribute) == minimum


def test_every_setting_has_a_variable_of_its_own_with_the_events_prefix():
    variables = [declared.metadata["variable"] for declared in fields(Settings)]
    assert len(set(variables)) == len(variables) == len(fields(Settings))
    assert all(variable.startswith("EVENTS_") for variable in variables)


def test_the_body_timeout_defaults_to_thirty_seconds_and_is_read_as_seconds():
    assert Settings().body_timeout == 30.0
    assert load_settings({"EVENTS_BODY_TIMEOUT_SECONDS": "1.5"}).body_timeout == 1.5


def test_a_nan_pool_timeout_is_refused():
    # NaN compares false with everything, so "NaN < 1" does not catch it.
    with pytest.raises(SettingsError, match="EVENTS_DB_POOL_TIMEOUT"):
        load_settings({"EVENTS_DB_POOL_TIMEOUT": "nan"})


# ---------------------------------------------------------------------------------------------
# Choices


@pytest.mark.parametrize("value", ["auto", "json", "console"])
def test_each_log_format_is_accepted(value):
    assert load_settings({"EVENTS_LOG_FORMAT": value}).log_format == value


def test_log_format_is_lowercased():
    assert load_settings({"EVENTS_LOG_FORMAT": "JSON"}).log_format == "json"


def test_unknown_log_format_is_refused_listing_the_choices():
    assert refusal(load_settings, {"EVENTS_LOG_FORMAT": "xml"}) == (
        "EVENTS_LOG_FORMAT must be one of auto, json, console, not 'xml'"
    )


def test_log_level_is_lowercased():
    assert load_settings({"EVENTS_LOG_LEVEL": "WARNING"}).log_level == "warning"


def test_unknown_log_level_is_refused_listing_the_choices():
    assert refusal(load_settings, {"EVENTS_LOG_LEVEL": "verbose"}) == (
        "EVENTS_LOG_LEVEL must be one of debug, info, warning, error, not 'verbose'"
    )


# ---------------------------------------------------------------------------------------------
# Database URL


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("postgres://u:p@h:5432/db", "postgresql://u:p@h:5432/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql://u@h/db"),
        ("postgres+psycopg://u@h/db", "postgresql://u@h/db"),
        ("sqlite+aiosqlite:///x.db", "sqlite:///x.db"),
        ("SQLITE:///x.db", "sqlite:///x.db"),
    ],
    ids=[
        "postgres_scheme_becomes_postgresql",
        "postgresql_url_is_kept",
        "postgresql_driver_suffix_is_stripped",
        "postgres_with_driver_suffix_becomes_plain_postgresql",
        "sqlite_driver_suffix_is_stripped",
        "scheme_is_lowercased",
    ],
)
def test_database_url_is_normalised(url, normalised):
    assert normalise_database_url(url) == normalised


def test_load_settings_normalises_the_database_url():
    settings = load_settings({"EVENTS_DATABASE_URL": "postgres+asyncpg://u@h/db"})
    assert settings.database_url == "postgresql://u@h/db"


def test_mysql_is_refused_naming_the_scheme():
    assert refusal(normalise_database_url, "mysql://u@h/db") == (
        "EVENTS_DATABASE_URL must use sqlite or postgresql, not 'mysql'"
    )


def test_a_url_without_scheme_separator_is_refused():
    assert refusal(normalise_database_url, "garbage") == (
        "EVENTS_DATABASE_URL must look like sqlite:///path/to/file.db or "
        "postgresql://user@host:5432/db, not 'garbage'"
    )


def test_a_url_with_nothing_after_the_scheme_is_refused():
    with pytest.raises(SettingsError, match=r"must look like .*, not 'postgresql://'$"):
        normalise_database_url("postgresql://")


def test_sqlite_without_three_slashes_is_refused():
    assert refusal(normalise_database_url, "sqlite://events.db") == (
        "EVENTS_DATABASE_URL for SQLite must be sqlite:///path, not 'sqlite://events.db'"
    )


def test_load_settings_refuses_a_bad_database_url():
    with pytest.raises(SettingsError, match="not 'mysql'"):
        load_settings({"EVENTS_DATABASE_URL": "mysql://u@h/db"})


def test_sqlite_file_of_a_relative_url():
    assert sqlite_file(make_url("sqlite:///.data/events.db")) == Path(".data/events.db")


def test_sqlite_file_of_an_absolute_url():
    assert sqlite_file(make_url("sqlite:////var/lib/events.db")) == Path("/var/lib/events.db")


def test_the_default_database_is_a_file_in_the_default_folder():
    assert sqlite_file(make_url(DEFAULT_DATABASE_URL)).parent == DEFAULT_DATA_FOLDER


def test_the_sqlite_url_chooses_the_sqlite_database():
    assert database_class("sqlite:///x.db") is SqliteDatabase


def test_the_postgresql_url_chooses_the_postgresql_database():
    assert database_class(normalise_database_url("postgres://u@h/db")) is PostgresDatabase


# ---------------------------------------------------------------------------------------------
# Keys from files, CORS origins


def test_keys_are_read_from_files_one_a_line_beside_the_variables(tmp_path):
    readers, writers = tmp_path / "read", tmp_path / "write"
    readers.write_text("r1\n\n  r2  \n")
    writers.write_text("w1\n")
    settings = load_settings(
        {
            "EVENTS_READ_KEYS": "r0",
            "EVENTS_READ_KEYS_FILE": str(readers),
            "EVENTS_WRITE_KEYS_FILE": str(writers),
        }
    )
    assert settings.every_read_key == {"r0", "r1", "r2"}
    assert settings.every_write_key == {"w1"}


def test_a_keys_file_that_cannot_be_read_is_refused_naming_the_variable(tmp_path):
    missing = tmp_path / "nothing-here"
    with pytest.raises(
        SettingsError, match=r"^EVENTS_WRITE_KEYS_FILE names .*nothing-here, which "
    ):
        load_settings({"EVENTS_WRITE_KEYS_FILE": str(missing)})


def test_an_empty_keys_file_is_refused(tmp_path):
    empty = tmp_path / "keys"
    empty.write_text("\n  \n")
    with pytest.raises(SettingsError, match=r"EVENTS_READ_KEYS_FILE names .* holds no key"):
        load_settings({"EVENTS_READ_KEYS_FILE": str(empty)})


def test_cors_origins_are_a_comma_list_and_none_by_default():
    assert load_settings({}).cors_origins == frozenset()
    settings = load_settings({"EVENTS_CORS_ORIGINS": "https://a.example, https://b.example"})
    assert settings.cors_origins == {"https://a.example", "https://b.example"}


def test_the_help_lists_every_variable_with_its_default():
    shown = environment_help()
    for declared in fields(Settings):
        assert declared.metadata["variable"] in shown
    assert "EVENTS_AUTO_MIGRATE                default: true" in shown
    assert "EVENTS_DB_POOL_SIZE                default: 10\n" in shown
    assert environment_help("database_url").splitlines()[1:] == [
        "  EVENTS_DATABASE_URL                default: sqlite:///.data/events.db"
    ]
