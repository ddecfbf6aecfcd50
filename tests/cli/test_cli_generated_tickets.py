"""cfxstore principals --generate: random tickets, shown once, stored with the fast hash."""

from __future__ import annotations

import json
import re

from cfxstore.credentials.hashing import FAST_TAG
from cfxstore.credentials.service import CredentialService


def stored_hash(path, authid, realm="realm1"):
    with CredentialService.open(path) as service:
        with service.db.begin() as txn:
            cred = service.schema.credentials.get_by_index(txn, "idx_credentials_by_auth", ("ticket", realm, authid))
        return cred.authconfig["hash"]


def verify(path, authid, ticket):
    with CredentialService.open(path) as service:
        return service.verify_ticket("realm1", authid, ticket) is not None


def test_add_generate_prints_the_ticket_once_and_stores_the_fast_hash(run, db):
    path, _ = db
    result = run("principals", "add", "svc", "--db", path, "--role", "user", "--generate")
    assert result.exit_code == 0, result.output
    ticket = re.search(r"shown only this once\): (\S+)", result.stdout).group(1)
    assert len(ticket) >= 32
    assert stored_hash(path, "svc").startswith(FAST_TAG)
    assert verify(path, "svc", ticket)


def test_passwd_generate_replaces_the_ticket(run, db):
    path, _ = db
    first = json.loads(run("principals", "add", "svc2", "--db", path, "--role", "user", "--generate",
                           "--json").stdout)["ticket"]
    second = json.loads(run("principals", "passwd", "svc2", "--db", path, "--generate", "--json").stdout)["ticket"]
    assert second != first
    assert verify(path, "svc2", second) and not verify(path, "svc2", first)


def test_generate_is_for_tickets_only_and_adds_nothing_otherwise(run, db):
    path, _ = db
    result = run("principals", "add", "x", "--db", path, "--role", "user", "--method", "wampcra", "--generate")
    assert result.exit_code == 2 and "tickets only" in result.output
    with CredentialService.open(path) as service:
        assert service.get_principal("realm1", "x") is None


def test_a_chosen_ticket_is_still_argon2id(run, db):
    path, _ = db
    result = run("principals", "add", "human", "--db", path, "--role", "user", "--password-stdin",
                 input="my own words\n")
    assert result.exit_code == 0, result.output
    assert stored_hash(path, "human").startswith("$argon2id$")
