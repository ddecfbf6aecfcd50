"""Records that could never be stored are refused when they are made, with an error naming why."""

from __future__ import annotations

import orm
import pytest

from cfxstore.plaindata import require_plain
from cfxstore.realmstore.service import SessionHistory


@pytest.fixture
def history(db):
    return SessionHistory(db)


def test_a_publication_whose_topic_no_index_can_hold_is_refused(history):
    with pytest.raises(orm.KeyTooLong, match="idx_publications_by_topic"):
        history.new_publication(publication_id=1, topic="t" * 600, publisher=None, timestamp=1)


def test_a_publication_whose_payload_cannot_be_stored_is_refused(history):
    with pytest.raises(ValueError, match="args: cannot store a value of type object"):
        history.new_publication(publication_id=1, topic="t", publisher=None, args=[object()], timestamp=1)
    with pytest.raises(ValueError, match="kwargs: keys must be strings"):
        history.new_publication(publication_id=1, topic="t", publisher=None, kwargs={"a": {1: 2}}, timestamp=1)


def test_a_session_whose_authid_no_index_can_hold_is_refused(history):
    with pytest.raises(orm.KeyTooLong, match="idx_sessions_by_authid"):
        history.new_session(session_id=1, realm="r", authid="\U0001F600" * 124, authrole="u", authmethod="t")


@pytest.mark.parametrize("value", [None, 1, 1.5, True, "s", b"b", [1, [2, {"k": None}]], {"a": [b"x"]}])
def test_plain_data_passes(value):
    require_plain("v", value)


def test_data_nested_too_deeply_is_refused():
    value: list = []
    for _ in range(40):
        value = [value]
    with pytest.raises(ValueError, match="nested deeper than 32"):
        require_plain("v", value)
