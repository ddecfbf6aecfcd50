"""WAMP authentication principals with ticket and WAMP-CRA credentials, stored hashed."""

from cfxstore.credentials.service import CredentialError, CredentialService, PrincipalExists, PrincipalNotFound

__all__ = ["CredentialService", "CredentialError", "PrincipalExists", "PrincipalNotFound"]
