"""Database maintenance: the migration runner, backups, dumps and the cfxdb import.

The schema version a database is stamped with is cfxstore.schemaversion's.
"""
