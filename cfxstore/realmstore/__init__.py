"""Session and event history of a realm: records, the RealmStore schema and SessionHistory."""
