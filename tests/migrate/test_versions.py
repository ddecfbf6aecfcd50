"""open_database and the schema version: new databases are stamped, old and newer ones refused."""

from __future__ import annotations

import pytest
from store_factories import MAXSIZE, populate, set_version, version_of

import orm
from cfxstore.cookies.service import CookieService
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.realmstore.service import SessionHistory
from cfxstore.schemaversion import DatabaseTooNew, DatabaseTooOld, latest_version


def test_latest_version_is_the_newest_migration_file():
    assert latest_version() == 2


def test_a_new_database_is_stamped_with_the_latest_version(db_path):
    open_database(db_path, maxsize=MAXSIZE).close()
    assert version_of(db_path) == latest_version()


def test_a_current_database_opens(db_path):
    populate(db_path)
    with CookieService.open(db_path, maxsize=MAXSIZE) as service:
        assert service.db.path.endswith("db")


@pytest.mark.parametrize("service", [CookieService, SessionHistory, CredentialService])
def test_services_refuse_an_older_database_naming_migrate_up(db_path, service):
    populate(db_path, version=1)
    with pytest.raises(DatabaseTooOld, match=r"cfxstore migrate up --db .*db") as info:
        service.open(db_path)
    assert info.value.version == 1 and info.value.supported == latest_version()


def test_an_unstamped_database_with_tables_counts_as_version_0(db_path):
    populate(db_path, version=None)
    with pytest.raises(DatabaseTooOld, match="no schema version.*cfxstore migrate up"):
        open_database(db_path)


def test_a_newer_database_is_refused_with_upgrade_advice(db_path):
    populate(db_path)
    set_version(db_path, latest_version() + 1)
    with pytest.raises(DatabaseTooNew, match="newer than this cfxstore supports.*upgrade cfxstore"):
        open_database(db_path)


def test_readonly_opens_are_checked_too(db_path):
    populate(db_path, version=1)
    with pytest.raises(DatabaseTooOld):
        open_database(db_path, readonly=True)


def test_a_refused_open_leaves_the_database_closed_and_unchanged(db_path):
    populate(db_path, version=1)
    with pytest.raises(DatabaseTooOld):
        open_database(db_path)
    assert version_of(db_path) == 1
    # The handle was closed: the path can be opened read-only again in this process.
    orm.Database(db_path, readonly=True).close()


def test_maintenance_opens_can_skip_the_check(db_path):
    populate(db_path, version=1)
    with open_database(db_path, check_version=False) as db:
        assert not db.closed
    assert version_of(db_path) == 1


def test_the_router_refuses_an_older_database(db_path):
    from cfxstore.node.config import DatabaseConfig
    from cfxstore.router.services import NodeServices

    populate(db_path, version=1)
    with pytest.raises(DatabaseTooOld, match="cfxstore migrate up"):
        NodeServices(db_path, DatabaseConfig(path=db_path))
