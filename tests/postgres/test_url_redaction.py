"""URLs as logs, errors and CLI output show them: every secret-bearing parameter masked, by rule."""

from __future__ import annotations

import pytest

import orm
from orm.engine import pgurl

SECRET = "s3cret-Value"
# libpq's secret-bearing keywords, one of a later libpq (oauth_client_secret) and one no libpq knows.
SECRET_PARAMS = ("password", "sslpassword", "oauth_client_secret", "some_future_token")


@pytest.mark.parametrize("name", SECRET_PARAMS)
def test_every_secret_bearing_parameter_is_masked(name):
    url = f"postgresql://alice:{SECRET}@db.example:5432/app?sslmode=require&{name}={SECRET}&schema=app"
    shown = pgurl.shown(url)
    assert SECRET not in shown
    assert shown == f"postgresql://alice:***@db.example:5432/app?sslmode=require&{name}=***&schema=app"


def test_parameters_that_carry_no_secret_stay_readable():
    url = "postgresql://alice@h1,h2:5433/app?sslmode=verify-full&sslkey=/k.pem&target_session_attrs=read-write"
    assert pgurl.shown(url) == url


def test_a_parameter_name_in_any_case_is_masked_by_the_same_rule():
    assert SECRET not in pgurl.redact(f"postgresql://h/app?SSLPassword={SECRET}")


def test_scrub_removes_every_secret_value_plain_or_percent_encoded():
    url = f"postgresql://h/app?sslpassword={SECRET}%40x&oauth_client_secret=other-{SECRET}"
    message = f"could not load key with {SECRET}@x, {SECRET}%40x and other-{SECRET}"
    assert SECRET not in pgurl.scrub(message, url)


def test_an_engine_error_never_shows_the_sslpassword():
    url = f"postgresql://someone@127.0.0.1:1/nowhere?timeout=1&sslpassword={SECRET}"
    with pytest.raises(orm.DatabaseError) as info:
        orm.Database(url)
    assert SECRET not in str(info.value) and "127.0.0.1:1/nowhere" in str(info.value)
