import pytest


@pytest.fixture
def gs(db):
    from cfxstore.globalschema.schema import GlobalSchema

    return GlobalSchema.attach(db)
