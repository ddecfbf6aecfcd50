"""Database maintenance: schema versions, the migration runner, backups, dumps and the cfxdb import.

Kept import-free: ``open_database`` imports ``cfxstore.migrate.versions`` on
every open and should not pay for the rest.
"""
