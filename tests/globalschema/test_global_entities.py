"""GlobalSchema records validate their fields (the shared round trips are in table_contract)."""

import pytest

from cfxstore.globalschema.entities import ActivationToken, Node, UsageRecord, User, UserMrealmRole
from cfxstore.globalschema.entities import email_key
from global_factories import activation_token, mrealm, node, organization, pubkey, usage, user, user_org_role


def test_user_rejects_address_without_at():
    with pytest.raises(ValueError, match="User.email"):
        user(email="not-an-address")


@pytest.mark.parametrize("bad", ["ABCD" * 16, "ab" * 31, "zz" * 32])
def test_pubkey_must_be_64_lowercase_hex(bad):
    with pytest.raises(ValueError, match="User.pubkey"):
        user(pubkey=bad)


def test_timestamps_must_be_int_nanoseconds():
    with pytest.raises(ValueError, match="User.registered: expected int"):
        user(registered=1.5)


def test_bool_is_not_a_timestamp():
    with pytest.raises(ValueError, match="registered"):
        user(registered=True)


def test_name_must_not_contain_whitespace():
    with pytest.raises(ValueError, match="Organization.name"):
        organization(name="two words")


def test_name_is_limited_to_255_characters():
    with pytest.raises(ValueError, match="at most 255"):
        mrealm(name="m" * 256)


def test_unknown_role_is_rejected():
    with pytest.raises(ValueError, match="roles"):
        user_org_role(roles=["superuser"])


def test_duplicate_roles_are_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        UserMrealmRole(user_oid=user().oid, mrealm_oid=mrealm().oid, roles=["admin", "admin"])


def test_empty_role_list_is_rejected():
    with pytest.raises(ValueError, match="at least one role"):
        user_org_role(roles=[])


def test_node_must_be_fully_paired_or_not_at_all():
    with pytest.raises(ValueError, match="set together"):
        node(authid=None)


def test_unpaired_node_is_valid():
    assert not node(mrealm_oid=None, authid=None).paired


def test_usage_interval_must_not_end_before_it_starts():
    with pytest.raises(ValueError, match="timestamp_from"):
        usage(timestamp_from=usage().timestamp + 1)


def test_usage_counters_must_be_numbers():
    with pytest.raises(ValueError, match="counters"):
        usage(counters={"sessions": "many"})


def test_activation_token_keeps_only_a_hash_of_the_code():
    token = activation_token(code_hash=ActivationToken.hash_code("123-456"))
    assert "123-456" not in repr(token.marshal())


def test_activation_token_matches_its_code():
    token = activation_token(code_hash=ActivationToken.hash_code("123-456"))
    assert token.code_matches("123-456")
    assert not token.code_matches("123-457")


def test_activation_token_code_hash_has_fixed_size():
    with pytest.raises(ValueError, match="32 bytes"):
        activation_token(code_hash=b"short")


def test_email_key_folds_case_and_surrounding_space():
    assert email_key(" Alice@Example.COM ") == "alice@example.com"


def test_records_are_keyword_only():
    with pytest.raises(TypeError):
        Node(pubkey(1))  # type: ignore[misc]


def test_defaults_give_fresh_ids_and_times():
    a, b = User(email="a@example.com"), User(email="b@example.com")
    assert a.oid != b.oid
    assert isinstance(a.registered, int) and a.registered > 0


def test_usage_key_is_timestamp_then_oid():
    record = usage(2)
    assert record.key == (record.timestamp, record.oid)
    assert isinstance(UsageRecord.parse(record.marshal()).key[0], int)
