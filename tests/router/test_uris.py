from cfxstore.realmstore.rules import uri_matches


def test_policies():
    assert uri_matches("com.a.b", "com.a.b", "exact")
    assert not uri_matches("com.a.bc", "com.a.b", "exact")
    assert uri_matches("com.a.bc", "com.a.b", "prefix")
    assert uri_matches("com.x.b", "com..b", "wildcard")
    assert not uri_matches("com.x.y.b", "com..b", "wildcard")
