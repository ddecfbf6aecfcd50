import pytest


@pytest.fixture
def db(tmp_path):
    import orm

    database = orm.Database(str(tmp_path / "db"), maxsize=2**26)
    yield database
    database.close()


@pytest.fixture
def gs(db):
    from cfxstore.globalschema.schema import GlobalSchema

    return GlobalSchema.attach(db)
