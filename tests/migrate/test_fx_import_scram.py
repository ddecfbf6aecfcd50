"""WAMP-SCRAM and TLS credentials of a Crossbar FX management realm (written through cfxdb) imported as they are."""

from __future__ import annotations

from autobahn.wamp.auth import derive_scram_credential
from cfxdb_factories import build_fx_mrealm
from store_factories import MAXSIZE

from cfxstore.credentials import scram
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.migrate.fx_import import import_mrealm


def _salted_keys(password: str, config: dict) -> tuple[str, str]:
    stored, server = scram.keys(scram.salted_password(password, config["kdf"], bytes.fromhex(config["salt"]),
                                                      config["iterations"], config["memory"]))
    return stored.hex(), server.hex()


def test_scram_credentials_in_both_forms_are_imported_and_answer_their_passwords(tmp_path, db_path):
    path = str(tmp_path / "mrealm")
    sam = derive_scram_credential("sam@example.com", "sam's password")
    sue = derive_scram_credential("sue@example.com", "sue's password")
    build_fx_mrealm(path, {"sam": ("scram", sam, "api"), "sue": ("scram", sue, "authconfig")})
    with open_database(db_path, maxsize=MAXSIZE) as db:
        result = import_mrealm(path, db)["credentials"]
        service = CredentialService(db)
        stored = {authid: service.get_scram("app1", authid)[1] for authid in ("sam", "sue")}
    assert (result.read, result.imported, result.skipped, result.changed) == (2, 2, {}, {})
    assert stored == {"sam": sam, "sue": sue}
    assert _salted_keys("sam's password", stored["sam"]) == (sam["stored-key"], sam["server-key"])


def test_scram_credentials_cfxstore_cannot_use_are_skipped_with_the_reason(tmp_path, db_path):
    path = str(tmp_path / "mrealm")
    good = derive_scram_credential("a@example.com", "password")
    # What Crossbar FX's own API documents as an example: empty keys.
    empty = {"kdf": "pbkdf2", "iterations": 100, "memory": 0, "salt": "00", "stored-key": "", "server-key": ""}
    build_fx_mrealm(path, {"ok": ("scram", good, "api"), "empty": ("scram", empty, "api"),
                           "odd": ("scram", {**good, "kdf": "bcrypt"}, "authconfig")})
    with open_database(db_path, maxsize=MAXSIZE) as db:
        result = import_mrealm(path, db)["credentials"]
        service = CredentialService(db)
        assert service.get_scram("app1", "empty") is None and service.get_scram("app1", "odd") is None
    assert result.read == result.imported + sum(result.skipped.values()) == 3
    assert result.imported == 1
    reasons = " | ".join(result.skipped)
    assert "stored-key" in reasons and "kdf" in reasons


def test_tls_credentials_are_imported_when_they_name_a_certificate_and_skipped_with_the_reason_otherwise(
        tmp_path, db_path):
    path = str(tmp_path / "mrealm")
    # What Crossbar FX's API takes for TLS today: the method alone. A stock config's match is understood.
    build_fx_mrealm(path, {"bare": ("tls", {}, "api"),
                           "device": ("tls", {"certificate-sha1": ":".join(["0F"] * 20)}, "api")})
    with open_database(db_path, maxsize=MAXSIZE) as db:
        result = import_mrealm(path, db)["credentials"]
        found = CredentialService(db).tls_principal("app1", ["sha1:" + "0f" * 20])
    assert (result.read, result.imported) == (2, 1)
    assert result.skipped == {"tls credential without a certificate to match (Crossbar FX stores none)": 1}
    assert found.authid == "device"
