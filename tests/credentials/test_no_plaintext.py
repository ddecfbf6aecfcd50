"""No test secret reaches the database files in any recoverable form."""

import pytest

TICKET = "ticket-7f3a9c2e-do-not-store"
PASSWORD = "password-b81d40aa-do-not-store"


@pytest.fixture
def db_bytes(db_path, db, svc, principals):
    principals.create(realm="realm1", authid="authid-marker-alice", role="user", ticket=TICKET, wampcra=PASSWORD)
    assert svc.verify_ticket("realm1", "authid-marker-alice", TICKET) is not None
    db.close()
    return b"".join(p.read_bytes() for p in sorted(db_path.iterdir()) if p.is_file())


def test_scan_sees_stored_text(db_bytes):
    # Guards the scan itself: stored strings are found as plain bytes.
    assert b"authid-marker-alice" in db_bytes


def test_ticket_is_not_in_the_database_files(db_bytes):
    assert TICKET.encode() not in db_bytes


def test_wampcra_password_is_not_in_the_database_files(db_bytes):
    assert PASSWORD.encode() not in db_bytes
