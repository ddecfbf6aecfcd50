"""CredentialService: WAMP principals and their ticket / WAMP-CRA credentials.

Secrets never reach the database in a recoverable form:

* tickets are stored hashed (hashing.py): generated tickets with a fast
  salted HMAC-SHA256, human-chosen ones with argon2id; both are compared in
  constant time;
* WAMP-CRA stores only the PBKDF2 key the router signs challenges with
  (plus salt, iterations, key length), never the password. That key is
  password-equivalent: whoever holds it can answer challenges.
* WAMP-SCRAM stores salt, cost parameters, StoredKey and ServerKey
  (scram.py); neither is password-equivalent.
* TLS stores which client certificate a principal logs in with (tls.py).

Realm names and authids are limited in UTF-8 bytes so that every index that
stores them (here and in the cookie store) stays within LMDB's 511-byte keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

import orm
from argon2 import PasswordHasher

from cfxstore.credentials import scram, tls
from cfxstore.credentials.hashing import TicketHasher, owasp_argon2id, wampcra_key
from cfxstore.errors import AlreadyExists, Error, InvalidArgument, NotFound, WrongType
# UTF-8 byte limits, shared with every index that stores these names.
from cfxstore.limits import MAX_AUTHID_BYTES, MAX_REALM_BYTES
from cfxstore.service import Service, attached
from cfxstore.mrealm.entities import Credential, Principal
from cfxstore.mrealm.schema import MrealmSchema
from cfxstore.timeutil import now_ns

__all__ = ["CredentialService", "CredentialError", "PrincipalExists", "PrincipalNotFound", "InvalidName"]

_BY_REALM_AUTHID = "idx_principals_by_realm_authid"
_BY_AUTH = "idx_credentials_by_auth"
_BY_CERTIFICATE = "idx_credentials_by_certificate"

_MIN_KEYLEN, _MAX_KEYLEN = 16, 64
# OWASP 2023 for PBKDF2-HMAC-SHA256. Keys derived with fewer iterations keep working.
DEFAULT_WAMPCRA_ITERATIONS = 600_000
DEFAULT_WAMPCRA_KEYLEN = 32

_DECOY_KEY_META = "cfxstore.credentials.decoy_key"


# The older names of cfxstore's shared errors, kept because callers import them from here.
CredentialError = Error
PrincipalExists = AlreadyExists
PrincipalNotFound = NotFound
InvalidName = InvalidArgument


def _fits(value: Any, limit: int) -> bool:
    return isinstance(value, str) and len(value.encode("utf-8", "surrogatepass")) <= limit


class CredentialService(Service):
    """Principals per realm, with hashed tickets and PBKDF2-derived WAMP-CRA keys."""

    def __init__(self, db: orm.Database, *, hasher: PasswordHasher | None = None,
                 wampcra_iterations: int = DEFAULT_WAMPCRA_ITERATIONS) -> None:
        """``hasher`` tunes argon2id cost (default: OWASP's); it must be argon2id."""
        try:
            self._tickets = TicketHasher(hasher if hasher is not None else owasp_argon2id())
        except ValueError as exc:
            raise InvalidArgument(f"CredentialService: {exc}") from None
        self._hasher = self._tickets.argon2
        self.db = db
        self._schema = attached(MrealmSchema, db)
        self._wampcra_iterations = wampcra_iterations
        self._dummy_hash: str | None = None
        self._decoy_key: bytes | None = None

    @property
    def schema(self) -> MrealmSchema:
        return self._schema

    # --- principals (read here; written only by cfxstore.management's PrincipalCollection) ---

    def get_principal(self, realm: str, authid: str) -> Principal | None:
        with self.db.begin() as txn:
            return self._principal(txn, realm, authid)

    def list_principals(self, realm: str | None = None) -> list[Principal]:
        """Principals ordered by (realm, authid), optionally of one realm only."""
        prefix = None if realm is None else (realm,)
        with self.db.begin() as txn:
            oids = self._schema.idx_principals_by_realm_authid.select(txn, prefix=prefix, return_keys=False)
            return [self._schema.principals[txn, oid] for oid in oids]

    # --- ticket ---

    def ticket_config(self, ticket: str, *, generated: bool = False) -> dict[str, Any]:
        """The stored form of a ticket credential (its hash), as put_credential stores it."""
        _require_secret("ticket", ticket, stored=True)
        if generated:
            if len(ticket) < 22:  # token_urlsafe(16): 128 bits in 22 characters
                raise InvalidArgument("a generated ticket must carry at least 128 random bits (22+ characters)")
            return {"hash": self._tickets.hash_generated(ticket)}
        return {"hash": self._tickets.hash_chosen(ticket)}

    def verify_ticket(self, realm: str, authid: str, ticket: str) -> Principal | None:
        """The principal if ``ticket`` is right, else None (unknown authid included).

        An unknown authid costs one argon2id verification, so that response
        time does not tell which authids exist. The router does not call
        this: it uses ticket_verifier() and evens out failure times itself.
        """
        _require_secret("ticket", ticket)
        verifier = self.ticket_verifier(realm, authid)
        if verifier is None:
            if self._dummy_hash is None:
                self._dummy_hash = self._tickets.hash_chosen(secrets.token_urlsafe(32))
            self._tickets.verify(self._dummy_hash, ticket)
            return None
        return verifier(ticket)

    def ticket_verifier(self, realm: str, authid: str) -> "TicketVerifier | None":
        """A check of candidate tickets for (realm, authid), or None if it has no ticket (or no such name)."""
        if not (_fits(realm, MAX_REALM_BYTES) and _fits(authid, MAX_AUTHID_BYTES)):
            return None
        with self.db.begin() as txn:
            cred = self._credential(txn, "ticket", realm, authid)
            principal = None if cred is None else self._schema.principals[txn, cred.principal_oid]
        if cred is None or principal is None:
            return None
        stored = cred.authconfig.get("hash")
        if not isinstance(stored, str):
            return None
        return TicketVerifier(self, principal, cred, stored)

    # --- WAMP-CRA ---

    def wampcra_config(self, secret: str, *, salt: str | None = None, iterations: int | None = None,
                       keylen: int = DEFAULT_WAMPCRA_KEYLEN) -> dict[str, Any]:
        """The stored form of a WAMP-CRA credential (the derived key and its parameters)."""
        if iterations is None:
            iterations = self._wampcra_iterations
        _require_secret("secret", secret, stored=True)
        if salt is None:
            salt = secrets.token_urlsafe(24)
        elif not isinstance(salt, str) or not salt:
            raise InvalidArgument("wampcra: salt must be a non-empty str")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise InvalidArgument(f"wampcra: iterations must be a positive int, got {iterations!r}")
        if isinstance(keylen, bool) or not isinstance(keylen, int) or not _MIN_KEYLEN <= keylen <= _MAX_KEYLEN:
            raise InvalidArgument(f"wampcra: keylen must be an int in {_MIN_KEYLEN}..{_MAX_KEYLEN}, got {keylen!r}")
        key = wampcra_key(secret, salt, iterations, keylen)
        return {"key": key, "salt": salt, "iterations": iterations, "keylen": keylen}

    def get_wampcra(self, realm: str, authid: str) -> dict | None:
        """What the router needs to challenge ``authid``; ``secret`` is the derived key."""
        if not (_fits(realm, MAX_REALM_BYTES) and _fits(authid, MAX_AUTHID_BYTES)):
            return None
        with self.db.begin() as txn:
            cred = self._credential(txn, "wampcra", realm, authid)
            if cred is None:
                return None
            principal = self._schema.principals[txn, cred.principal_oid]
        if principal is None:
            return None
        cfg = cred.authconfig
        return {
            "secret": cfg["key"],
            "salt": cfg["salt"],
            "iterations": cfg["iterations"],
            "keylen": cfg["keylen"],
            "role": principal.role,
            "authid": principal.authid,
            "realm": principal.realm,
            "extra": principal.extra,
        }

    def wampcra_decoy(self, realm: str, authid: str, *, role: str, iterations: int = DEFAULT_WAMPCRA_ITERATIONS,
                      keylen: int = DEFAULT_WAMPCRA_KEYLEN) -> dict:
        """A challenge description for an authid without WAMP-CRA credentials that looks like a real one.

        The salt is a keyed hash of (realm, authid) under a random key kept
        in the database's metadata, so repeated probes see the same salt (as
        for a real user) and every router worker answers alike; the secret is
        random, so no signature ever matches.
        """
        digest = hmac.new(self._decoy_secret(), f"{realm}\x00{authid}".encode("utf-8", "surrogatepass"),
                          hashlib.sha256).digest()
        return {
            "secret": base64.b64encode(secrets.token_bytes(keylen)).decode("ascii"),
            # Same alphabet and length as the salts wampcra_config makes (token_urlsafe(24)).
            "salt": base64.urlsafe_b64encode(digest[:24]).decode("ascii"),
            "iterations": iterations,
            "keylen": keylen,
            "role": role,
            "authid": authid,
            "realm": realm,
            "extra": None,
        }

    # --- WAMP-SCRAM ---

    def scram_config(self, password: str, **options: Any) -> dict[str, Any]:
        """The stored form of a WAMP-SCRAM credential for ``password`` (options: kdf, iterations, memory)."""
        return scram.derive(password, **options)

    def get_scram(self, realm: str, authid: str) -> tuple[Principal, dict[str, Any]] | None:
        """The principal and its SCRAM credential (stored form), or None."""
        return self.stored_credential("scram", realm, authid)

    def scram_decoy(self, realm: str, authid: str, **options: Any) -> dict[str, Any]:
        """A SCRAM credential for an authid without one: same salt on every probe, and no password matches."""
        return scram.decoy(self._decoy_seed("scram", realm, authid), **options)

    # --- TLS client certificates ---

    def tls_principal(self, realm: str, keys: list[str]) -> Principal | None:
        """The principal whose TLS credential matches one of ``keys`` (tls.peer_keys), first key first."""
        if not _fits(realm, MAX_REALM_BYTES):
            return None
        with self.db.begin() as txn:
            for key in keys:
                cred = self._schema.credentials.get_by_index(txn, _BY_CERTIFICATE, (realm, key))
                if cred is not None:
                    return self._schema.principals[txn, cred.principal_oid]
        return None

    # --- credentials made elsewhere ---

    def stored_config(self, method: str, config: Any) -> dict[str, Any]:
        """A credential given in its stored form (SCRAM derived elsewhere, a TLS match), checked."""
        if method == "scram":
            return scram.check_stored(config)
        if method == "tls":
            return tls.check(config)
        raise InvalidArgument(f"method: a {method} credential is not given in its stored form")

    # --- internals ---

    def stored_credential(self, method: str, realm: str, authid: str) -> tuple[Principal, dict[str, Any]] | None:
        """The principal and its ``method`` credential in the stored form, or None."""
        if not (_fits(realm, MAX_REALM_BYTES) and _fits(authid, MAX_AUTHID_BYTES)):
            return None
        with self.db.begin() as txn:
            cred = self._credential(txn, method, realm, authid)
            principal = None if cred is None else self._schema.principals[txn, cred.principal_oid]
        return None if cred is None or principal is None else (principal, dict(cred.authconfig))

    def _decoy_seed(self, method: str, realm: str, authid: str) -> bytes:
        return hmac.new(self._decoy_secret(), f"{method}\x00{realm}\x00{authid}".encode("utf-8", "surrogatepass"),
                        hashlib.sha256).digest()

    def load_decoy_key(self) -> None:
        """Read (or create, once per database) the key decoy challenges derive from, now: the first login
        of an unknown authid would otherwise write it (a router calls this off its reactor at start)."""
        self._decoy_secret()

    def _decoy_secret(self) -> bytes:
        if self._decoy_key is None:
            def write(txn: orm.Transaction) -> bytes:
                key = self.db.get_meta(txn, _DECOY_KEY_META)
                if not isinstance(key, bytes) or len(key) < 32:
                    key = secrets.token_bytes(32)
                    self.db.set_meta(txn, _DECOY_KEY_META, key)
                return key

            try:
                key = self.transact(write, conflicts_only=True)  # a login waits on it: an outage fails at once
            except orm.ReadOnlyError:
                key = secrets.token_bytes(32)  # stable for this process only
            self._decoy_key = key
        return self._decoy_key

    def _principal(self, txn: Any, realm: str, authid: str) -> Principal | None:
        return self._schema.principals.get_by_index(txn, _BY_REALM_AUTHID, (realm, authid))

    def _credential(self, txn: Any, authmethod: str, realm: str, authid: str) -> Credential | None:
        return self._schema.credentials.get_by_index(txn, _BY_AUTH, (authmethod, realm, authid))

    def put_credential(self, txn: Any, realm: str, authid: str, authmethod: str, config: dict[str, Any]) -> None:
        """Write a credential made by ticket_config/wampcra_config in the write transaction txn.

        The one writer of credentials: called by the principals' owner
        (cfxstore.management PrincipalCollection), which ends the principal's
        logins with it, and by a login that upgrades its own hash.
        """
        principal = self._principal(txn, realm, authid)
        if principal is None:
            raise PrincipalNotFound(f"no principal {authid!r} on realm {realm!r}")
        cred = self._credential(txn, authmethod, realm, authid)
        if authmethod == "tls":
            self._certificate_free(txn, principal, config)
        now = now_ns()
        if cred is None:
            cred = Credential(principal_oid=principal.oid, authmethod=authmethod, realm=realm, authid=authid,
                              authconfig=config, created=now, modified=now)
        else:
            cred.authconfig = config
            cred.modified = now
            cred.validate()
        self._schema.credentials[txn, cred.oid] = cred

    def delete_credential(self, txn: Any, realm: str, authid: str, authmethod: str) -> bool:
        """Delete the principal's credential of authmethod in the write transaction txn; False if it had none.

        Called by the principals' owner only, which ends the principal's logins with it.
        """
        cred = self._credential(txn, authmethod, realm, authid)
        if cred is None:
            return False
        self._schema.credentials.delete(txn, cred.oid)
        return True

    def _certificate_free(self, txn: Any, principal: Principal, config: dict[str, Any]) -> None:
        ((kind, value),) = config.items()
        holder = self._schema.credentials.get_by_index(txn, _BY_CERTIFICATE, (principal.realm, f"{kind}:{value}"))
        if holder is not None and holder.principal_oid != principal.oid:
            raise AlreadyExists(f"tls: {kind} {value!r} already identifies principal {holder.authid!r} "
                                f"on realm {principal.realm!r}")

    def _rehash(self, cred: Credential, ticket: str) -> None:
        # A changed argon2id cost upgrades stored hashes on the next login: the same secret in a
        # new form, so the principal's logins stay (unlike a new secret, set through its owner).
        config = {"hash": self._tickets.hash_chosen(ticket)}
        try:
            self.transact(lambda txn: self.put_credential(txn, cred.realm, cred.authid, "ticket", config),
                          conflicts_only=True)  # in a login: an outage fails it at once
        except (orm.ReadOnlyError, PrincipalNotFound):
            pass


class TicketVerifier:
    """The stored ticket hash of one principal; ``slow`` says whether checking it costs argon2id."""

    __slots__ = ("_service", "principal", "_cred", "_stored", "slow")

    def __init__(self, service: CredentialService, principal: Principal, cred: Credential, stored: str) -> None:
        self._service = service
        self.principal = principal
        self._cred = cred
        self._stored = stored
        self.slow = service._tickets.is_slow(stored)

    def __call__(self, ticket: str) -> Principal | None:
        """The principal if ticket matches, else None."""
        tickets = self._service._tickets
        if not isinstance(ticket, str) or not tickets.verify(self._stored, ticket):
            return None
        if tickets.needs_rehash(self._stored):
            self._service._rehash(self._cred, ticket)
        return self.principal


def _require_secret(name: str, value: Any, stored: bool = False) -> None:
    """A str; one to be stored must also be non-empty and encodable, so no stored secret holds a lone surrogate."""
    if not isinstance(value, str):
        raise WrongType(f"{name} must be a str, got {type(value).__name__}")
    if not stored:
        return
    if not value:
        raise InvalidArgument(f"{name} must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(f"{name} must be text that UTF-8 can encode (it holds a lone surrogate)") from None
