"""How ticket secrets are stored: the stored string's tag names its hash.

* ``$hmac-sha256$<salt>$<mac>`` for tickets the system generates (128 or more
  random bits): HMAC-SHA256 of the ticket keyed with a random 16-byte salt of
  its own. Guessing a 128-bit token is hopeless however fast the hash, so a
  slow hash would only slow down logins; the salt keeps equal tickets from
  having equal hashes. A per-database key (pepper) would add nothing here: it
  would live in the same file as the hashes. Verified in microseconds, in
  constant time.
* ``$argon2id$...`` (argon2's own encoded form) for tickets a human chose:
  argon2id at OWASP's recommended cost (19 MiB, 2 passes, 1 lane) unless
  configured otherwise. Hashes made with other argon2id parameters (main's
  defaults were 64 MiB, 3 passes, 4 lanes) keep verifying and are re-hashed
  at the configured cost on the next successful login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cfxstore.errors import InvalidArgument

FAST_TAG = "$hmac-sha256$"
SLOW_TAG = "$argon2id$"
_SALT_BYTES = 16


def owasp_argon2id(memory_kib: int = 19456, time_cost: int = 2, parallelism: int = 1) -> PasswordHasher:
    """argon2id with OWASP's 2023 recommended minimum (m=19 MiB, t=2, p=1) unless told otherwise."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _bytes(ticket: str) -> bytes:
    """UTF-8, where lone surrogates (valid in WAMP-JSON, never in a stored ticket) pass instead of raising."""
    return ticket.encode("utf-8", "surrogatepass")


def _mac(salt: bytes, ticket: str) -> bytes:
    return hmac.new(salt, _bytes(ticket), hashlib.sha256).digest()


class TicketHasher:
    """Makes and checks the stored forms of tickets (see the module docstring)."""

    def __init__(self, argon2: PasswordHasher) -> None:
        if argon2.type is not Type.ID:
            raise InvalidArgument(f"the ticket hasher must use argon2id, got {argon2.type.name}")
        self.argon2 = argon2

    def hash_generated(self, ticket: str) -> str:
        """The fast form, for a ticket of at least 128 random bits made by the system."""
        salt = secrets.token_bytes(_SALT_BYTES)
        return f"{FAST_TAG}{_b64(salt)}${_b64(_mac(salt, ticket))}"

    def hash_chosen(self, ticket: str) -> str:
        """The argon2id form, for a ticket a human chose."""
        return self.argon2.hash(ticket)

    @staticmethod
    def is_slow(stored: str) -> bool:
        return not stored.startswith(FAST_TAG)

    def verify(self, stored: str, ticket: str) -> bool:
        """True if ticket matches stored (either form); False for a mismatch or a malformed stored form."""
        if stored.startswith(FAST_TAG):
            try:
                salt_text, mac_text = stored[len(FAST_TAG):].split("$")
                salt = base64.urlsafe_b64decode(salt_text + "==")
                expected = base64.urlsafe_b64decode(mac_text + "==")
            except ValueError:
                return False
            return hmac.compare_digest(_mac(salt, ticket), expected)
        try:
            return self.argon2.verify(stored, _bytes(ticket))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """An argon2id hash whose cost differs from the configured one."""
        return stored.startswith("$argon2") and self.argon2.check_needs_rehash(stored)


def wampcra_key(secret: str, salt: str, iterations: int, keylen: int) -> str:
    """The key WAMP-CRA signs with: PBKDF2-HMAC-SHA256 of the UTF-8 secret and salt, in base64.

    The same bytes as autobahn's ``derive_key``, computed with hashlib so that storing a
    credential does not load the WAMP stack (the CLI starts faster without it).
    """
    key = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt.encode("utf-8"), iterations, keylen)
    return base64.b64encode(key).decode("ascii")
