import pytest


@pytest.fixture
def ms(db):
    from cfxstore.mrealm.schema import MrealmSchema

    return MrealmSchema.attach(db)
