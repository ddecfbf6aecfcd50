"""WAMP-SCRAM credentials in the form Crossbar's SCRAM authenticator reads them.

A credential is ``{"kdf", "iterations", "memory", "salt", "stored-key",
"server-key"}`` (salt and keys in hex), exactly what a static principal of a
stock Crossbar node and a cfxdb credential hold. The password is never kept:
only StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key")) and ServerKey =
HMAC(SaltedPassword, "Server Key"), as in RFC 5802. The client derives
SaltedPassword from the parameters the challenge carries:

* ``argon2id-13``: argon2id v1.3 over the raw salt, one lane, 32 bytes; the
  key is the hash in argon2's unpadded base64 text (what Autobahn's SCRAM
  client and ``autobahn.wamp.auth.derive_scram_credential`` use);
* ``pbkdf2``: PBKDF2-HMAC-SHA256 over the raw salt, 32 bytes.

Parameters for new credentials may not fall below OWASP's 2023 minimums
(argon2id: 7 MiB and memory x passes >= 35 MiB; PBKDF2-HMAC-SHA256: 600,000
rounds). Credentials carried over from elsewhere are kept as they are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Any

from argon2.low_level import Type, hash_secret_raw

from cfxstore.errors import InvalidArgument

__all__ = ["KDFS", "DEFAULT_KDF", "derive", "check_stored", "decoy", "salted_password", "keys"]

ARGON2, PBKDF2 = "argon2id-13", "pbkdf2"
KDFS = (ARGON2, PBKDF2)
DEFAULT_KDF = ARGON2
#: (iterations, memory in KiB) for new credentials of each KDF; memory means nothing to PBKDF2.
DEFAULTS = {ARGON2: (2, 19456), PBKDF2: (600_000, 0)}
_MIN_ARGON2_MEMORY, _MIN_ARGON2_WORK = 7168, 7168 * 5
_MIN_PBKDF2 = 600_000
_MAX_ITERATIONS, _MAX_MEMORY = 10**8, 2**22
SALT_BYTES = 16
_KEYS = ("kdf", "iterations", "memory", "salt", "stored-key", "server-key")


def _b64_unpadded(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def salted_password(password: str, kdf: str, salt: bytes, iterations: int, memory: int) -> bytes:
    """SaltedPassword as the client computes it from the challenge."""
    secret = password.encode("utf-8")
    if kdf == ARGON2:
        raw = hash_secret_raw(secret, salt, time_cost=iterations, memory_cost=memory, parallelism=1,
                              hash_len=32, type=Type.ID, version=19)
        return _b64_unpadded(raw)
    return hashlib.pbkdf2_hmac("sha256", secret, salt, iterations, 32)


def keys(salted: bytes) -> tuple[bytes, bytes]:
    """(StoredKey, ServerKey) of a SaltedPassword."""
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest(), hmac.new(salted, b"Server Key", hashlib.sha256).digest()


def _int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{name}: expected an int in {low}..{high}, got {value!r}")
    return value


def _kdf(value: Any) -> str:
    if value not in KDFS:
        raise InvalidArgument(f"kdf: expected one of {', '.join(KDFS)}, got {value!r}")
    return str(value)


def derive(password: str, *, kdf: str = DEFAULT_KDF, iterations: int | None = None, memory: int | None = None,
           salt: bytes | None = None) -> dict[str, Any]:
    """The stored form of a new credential for ``password`` (its salt random unless given)."""
    if not isinstance(password, str) or not password:
        raise InvalidArgument("password: must be a non-empty string")
    kdf = _kdf(kdf)
    default_iterations, default_memory = DEFAULTS[kdf]
    iterations = default_iterations if iterations is None else iterations
    memory = default_memory if memory is None else memory
    if kdf == ARGON2:
        memory = _int("memory", memory, _MIN_ARGON2_MEMORY, _MAX_MEMORY)
        iterations = _int("iterations", iterations, 1, _MAX_ITERATIONS)
        if memory * iterations < _MIN_ARGON2_WORK:
            raise InvalidArgument(f"iterations: argon2id needs memory x iterations >= {_MIN_ARGON2_WORK} "
                                  f"KiB (OWASP), got {memory} x {iterations}")
    else:
        iterations = _int("iterations", iterations, _MIN_PBKDF2, _MAX_ITERATIONS)
        memory = _int("memory", memory, 0, 0)
    if salt is None:
        salt = secrets.token_bytes(SALT_BYTES)
    stored, server = keys(salted_password(password, kdf, salt, iterations, memory))
    return {"kdf": kdf, "iterations": iterations, "memory": memory, "salt": salt.hex(),
            "stored-key": stored.hex(), "server-key": server.hex()}


def _hex(name: str, value: Any, size: int | None) -> bytes:
    try:
        data = binascii.a2b_hex(value) if isinstance(value, str) else None
    except (binascii.Error, ValueError):
        data = None
    if data is None or not data or (size is not None and len(data) != size):
        wanted = f"{size * 2} hex digits" if size else "hex digits"
        raise InvalidArgument(f"{name}: expected {wanted}, got {value!r}"[:200])
    return data


def check_stored(config: Any) -> dict[str, Any]:
    """A credential derived elsewhere (cfxdb, a stock node config), checked and in canonical form."""
    if not isinstance(config, dict):
        raise InvalidArgument(f"expected a mapping, got {type(config).__name__}")
    unknown = sorted(set(config) - set(_KEYS))
    if unknown:
        raise InvalidArgument(f"unknown key(s) {unknown}; a credential holds {', '.join(_KEYS)}")
    kdf = _kdf(config.get("kdf"))
    iterations = _int("iterations", config.get("iterations"), 1, _MAX_ITERATIONS)
    memory = _int("memory", config.get("memory", 0), 0 if kdf == PBKDF2 else 8, _MAX_MEMORY)
    salt = _hex("salt", config.get("salt"), None)
    stored = _hex("stored-key", config.get("stored-key"), 32)
    server = _hex("server-key", config.get("server-key"), 32)
    return {"kdf": kdf, "iterations": iterations, "memory": memory, "salt": salt.hex(),
            "stored-key": stored.hex(), "server-key": server.hex()}


def decoy(seed: bytes, *, kdf: str = DEFAULT_KDF, iterations: int | None = None,
          memory: int | None = None) -> dict[str, Any]:
    """A credential no password matches, its salt fixed by ``seed`` (so repeated probes see the same one)."""
    default_iterations, default_memory = DEFAULTS[kdf]
    return {"kdf": kdf, "iterations": default_iterations if iterations is None else iterations,
            "memory": default_memory if memory is None else memory, "salt": seed[:SALT_BYTES].hex(),
            "stored-key": secrets.token_bytes(32).hex(), "server-key": secrets.token_bytes(32).hex()}
