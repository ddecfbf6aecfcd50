"""The Crossbar-free part of a router node: its config, directory and process files.

The router (which imports Crossbar) and the CLI (which must not need it)
both build on this package; nothing here imports Crossbar.
"""
