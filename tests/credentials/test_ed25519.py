"""The public key check accepts exactly what libsodium's crypto_core_ed25519_is_valid_point accepts."""

from __future__ import annotations

import os

import pytest
from nacl.bindings import crypto_core_ed25519_is_valid_point
from nacl.signing import SigningKey

from cfxstore.credentials.ed25519 import is_public_key

# Encodings of small-order points, non-canonical ones among them (libsodium refuses them all).
SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
]


def test_every_generated_public_key_is_one():
    for _ in range(50):
        assert is_public_key(SigningKey.generate().verify_key.encode())


@pytest.mark.parametrize("encoded", SMALL_ORDER)
def test_small_order_points_are_not(encoded):
    assert not is_public_key(bytes.fromhex(encoded))
    assert not crypto_core_ed25519_is_valid_point(bytes.fromhex(encoded))


def test_random_bytes_are_judged_as_libsodium_judges_them():
    samples = [os.urandom(32) for _ in range(300)]
    # Private key seeds are random bytes too: about one in sixteen is a point of the right subgroup.
    assert [is_public_key(s) for s in samples] == [crypto_core_ed25519_is_valid_point(s) for s in samples]


def test_other_lengths_are_not():
    assert not is_public_key(b"") and not is_public_key(SigningKey.generate().verify_key.encode() + b"\0")
