"""Numbered schema migrations of cfxstore databases, run by ``cfxstore migrate``.

Each module ``NNNN_name.py`` defines VERSION (== NNNN), DESCRIPTION,
``upgrade(ctx)`` and optionally ``downgrade(ctx)``; see docs/migrations.md.
The highest number is the schema version the code writes.
"""
