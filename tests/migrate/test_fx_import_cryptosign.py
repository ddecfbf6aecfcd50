"""Importing Crossbar FX cryptosign credentials (written through cfxdb's own API) as cfxstore key records."""

from __future__ import annotations

from cfxdb_factories import build_fx_mrealm
from nacl.signing import SigningKey
from store_factories import MAXSIZE

from cfxstore.credentials.cryptosign import CryptosignKeyring
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.migrate.fx_import import import_mrealm


def pubkey() -> str:
    return SigningKey.generate().verify_key.encode().hex()


def test_authorized_keys_become_one_key_record_each_in_either_form(tmp_path, db_path):
    laptop, phone, sensor = pubkey(), pubkey(), pubkey()
    path = str(tmp_path / "mrealm")
    build_fx_mrealm(path, {
        # cfxdb checks these itself: a list of 64 hex characters each (either case).
        "mona": ("cryptosign", {"authorized_keys": [laptop, phone.upper()]}, "authconfig"),
        "nina": ("cryptosign", {"authorized_keys": [sensor]}, "api"),
    })
    with open_database(db_path, maxsize=MAXSIZE) as db:
        result = import_mrealm(path, db)["credentials"]
        keyring = CryptosignKeyring(db)
        found = {key: keyring.find("app1", None, key) for key in (laptop, phone, sensor)}
        mgmt = Management(db)
        mona = mgmt.principals.get_by(("app1", "mona"))
        stored = [k.pubkey for k in mgmt.principals.keys(mona.oid)]
    assert (result.read, result.imported, result.skipped) == (2, 2, {})
    assert result.changed == {"cryptosign authorized_keys stored as one key record each": 2}
    assert {key: (m.principal.authid, m.principal.role) for key, m in found.items()} == {
        laptop: ("mona", "frontend"), phone: ("mona", "frontend"), sensor: ("nina", "frontend")}
    assert sorted(stored) == sorted([laptop, phone])


def test_cryptosign_credentials_cfxstore_cannot_hold_are_skipped_with_the_reason_and_write_nothing(
        tmp_path, db_path):
    shared, own = pubkey(), pubkey()
    path = str(tmp_path / "mrealm")
    build_fx_mrealm(path, {
        "mona": ("cryptosign", {"authorized_keys": [shared]}, "authconfig"),
        # The same key for a second principal: a key names one principal in cfxstore.
        "otto": ("cryptosign", {"authorized_keys": [own, shared]}, "authconfig"),
        # 64 hex characters that are no Ed25519 public key (cfxdb takes any).
        "pete": ("cryptosign", {"authorized_keys": ["00" * 32]}, "authconfig"),
        "quin": ("cryptosign", {"authorized_keys": []}, "api"),
    })
    with open_database(db_path, maxsize=MAXSIZE) as db:
        result = import_mrealm(path, db)["credentials"]
        keyring = CryptosignKeyring(db)
        # cfxdb lists credentials by their random oids: whichever came first holds the shared key.
        holder = keyring.find("app1", None, shared).principal.authid
        # otto's credential is imported or skipped whole, never in part.
        assert (keyring.find("app1", "otto", own) is None) == (holder == "mona")
        rerun = import_mrealm(path, db)["credentials"]
    assert result.read == result.imported + sum(result.skipped.values()) == 4
    assert result.imported == 1
    assert set(result.skipped) == {
        f"cryptosign key refused: pubkey: {shared} already belongs to principal '{holder}'",
        "cryptosign credential with a malformed key in authorized_keys",
        "cryptosign credential without authorized_keys"}
    # A re-run imports nothing twice and reads every credential again.
    assert rerun.imported == 0 and rerun.skipped.get("imported before") == 1
