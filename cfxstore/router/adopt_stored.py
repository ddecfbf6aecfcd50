"""Static WAMP-SCRAM and TLS principals of a stock node config, for ``router adopt``.

Stock Crossbar keeps both in their stored form: SCRAM principals with the
derived keys (``kdf``, ``iterations``, ``memory``, ``salt``, ``stored-key``,
``server-key``), TLS principals with the SHA-1 fingerprint of their client
certificate (``certificate-sha1``, matched against the certificate the TLS
endpoint verified). They move into the store unchanged, so every client logs
in as before; the store keeps the SHA-1 match for them (new TLS principals
are matched by SHA-256).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from cfxstore.credentials import scram, tls
from cfxstore.errors import InvalidArgument

__all__ = ["STORED_METHODS", "stored_config"]

_SCRAM_KEYS = ("kdf", "iterations", "memory", "salt", "stored-key", "server-key")


def _scram(principal: Mapping[str, Any]) -> dict[str, Any]:
    return scram.check_stored({k: principal.get(k) for k in _SCRAM_KEYS})


def _tls(principal: Mapping[str, Any]) -> dict[str, Any]:
    return tls.check({"sha1": principal.get("certificate-sha1")})


#: method -> how a static principal's stored credential is read from the config.
STORED_METHODS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {"scram": _scram, "tls": _tls}


def stored_config(method: str, principal: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The credential of one static principal (at ``where`` in the config), checked; ValueError names the field."""
    try:
        return STORED_METHODS[method](principal)
    except InvalidArgument as exc:
        raise ValueError(f"{where}: {exc}") from None
