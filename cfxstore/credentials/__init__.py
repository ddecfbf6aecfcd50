"""WAMP authentication principals with ticket and WAMP-CRA credentials, stored hashed."""

from cfxstore.credentials.service import (CredentialError, CredentialService, InvalidName, PrincipalExists,
                                          PrincipalNotFound)

__all__ = ["CredentialService", "CredentialError", "InvalidName", "PrincipalExists", "PrincipalNotFound"]
