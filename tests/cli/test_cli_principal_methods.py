"""cfxstore principals for WAMP-SCRAM (a password, stored as derived keys) and TLS (a client certificate)."""

from __future__ import annotations

import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from cfxstore.credentials import scram
from cfxstore.credentials.service import CredentialService

SHA256 = "ab" * 32


def _scram(path, authid):
    with CredentialService.open(path) as service:
        return service.get_scram("realm1", authid)


def _tls(path, key):
    with CredentialService.open(path) as service:
        return service.tls_principal("realm1", [key])


def _absent(path, authid):
    with CredentialService.open(path) as service:
        return service.get_principal("realm1", authid) is None


def _self_signed_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "sensor")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(Encoding.PEM)


def test_add_scram_stores_keys_that_the_password_derives_and_not_the_password(run, db):
    path, _ = db
    result = run("principals", "add", "sam", "--db", path, "--role", "user", "--method", "scram",
                 "--password-stdin", input="scram secret\n")
    assert result.exit_code == 0, result.output
    _, config = _scram(path, "sam")
    stored, _ = scram.keys(scram.salted_password("scram secret", config["kdf"], bytes.fromhex(config["salt"]),
                                                 config["iterations"], config["memory"]))
    assert config["stored-key"] == stored.hex()
    assert "scram secret" not in repr(config)


def test_passwd_scram_with_pbkdf2(run, db):
    path, _ = db
    result = run("principals", "passwd", "alice", "--db", path, "--method", "scram", "--kdf", "pbkdf2",
                 "--password-stdin", input="new secret\n")
    assert result.exit_code == 0, result.output
    assert _scram(path, "alice")[1]["kdf"] == "pbkdf2"


def test_scram_cost_below_the_minimum_is_refused_naming_the_option_and_nothing_is_added(run, db):
    path, _ = db
    result = run("principals", "add", "weak", "--db", path, "--role", "user", "--method", "scram",
                 "--iterations", "1", "--password-stdin", input="pw\n")
    assert result.exit_code == 1 and "scram: iterations:" in result.stderr
    assert _absent(path, "weak")


def test_scram_options_with_another_method_are_refused(run, db):
    path, _ = db
    result = run("principals", "passwd", "alice", "--db", path, "--kdf", "pbkdf2", "--password-stdin",
                 input="pw\n")
    assert result.exit_code == 2 and "--kdf applies to --method scram only" in result.stderr


def test_add_tls_by_fingerprint_asks_for_no_secret(run, db):
    path, _ = db
    result = run("principals", "add", "dev", "--db", path, "--role", "device", "--method", "tls",
                 "--fingerprint", ":".join(["AB"] * 32))
    assert result.exit_code == 0, result.output
    assert "TLS client certificate" in result.stdout
    assert _tls(path, f"sha256:{SHA256}").authid == "dev"


def test_add_tls_from_a_certificate_file(run, db, tmp_path):
    path, _ = db
    pem = _self_signed_pem()
    (tmp_path / "c.pem").write_bytes(pem)
    result = run("principals", "add", "dev", "--db", path, "--role", "device", "--method", "tls",
                 "--certificate", str(tmp_path / "c.pem"))
    assert result.exit_code == 0, result.output
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    assert _tls(path, f"sha256:{hashlib.sha256(der).hexdigest()}").authid == "dev"


def test_tls_needs_exactly_one_match(run, db):
    path, _ = db
    for extra in ([], ["--cn", "a", "--fingerprint", SHA256]):
        result = run("principals", "add", "dev", "--db", path, "--role", "device", "--method", "tls", *extra)
        assert result.exit_code == 2 and "exactly one of --fingerprint, --certificate, --cn" in result.stderr


def test_tls_certificate_file_that_is_no_certificate_is_refused(run, db, tmp_path):
    path, _ = db
    (tmp_path / "junk.pem").write_text("junk")
    result = run("principals", "add", "dev", "--db", path, "--role", "device", "--method", "tls",
                 "--certificate", str(tmp_path / "junk.pem"))
    assert result.exit_code == 1 and "is not a PEM certificate" in result.stderr
    assert _absent(path, "dev")


def test_a_certificate_another_principal_has_is_refused(run, db):
    path, _ = db
    run("principals", "add", "dev", "--db", path, "--role", "device", "--method", "tls", "--fingerprint", SHA256)
    result = run("principals", "certificate", "alice", "--db", path, "--fingerprint", SHA256)
    assert result.exit_code == 1 and "already identifies principal 'dev'" in result.stderr
    assert _tls(path, f"sha256:{SHA256}").authid == "dev"


def test_certificate_replaces_the_match(run, db):
    path, _ = db
    run("principals", "add", "dev", "--db", path, "--role", "device", "--method", "tls", "--fingerprint", SHA256)
    data = run.json("principals", "certificate", "dev", "--db", path, "--cn", "sensor-17")
    assert data == {"realm": "realm1", "authid": "dev", "method": "tls", "cn": "sensor-17"}
    assert _tls(path, f"sha256:{SHA256}") is None and _tls(path, "cn:sensor-17").authid == "dev"


def test_passwd_refuses_tls(run, db):
    path, _ = db
    result = run("principals", "passwd", "alice", "--db", path, "--method", "tls")
    assert result.exit_code == 2 and "principals certificate" in result.stderr
