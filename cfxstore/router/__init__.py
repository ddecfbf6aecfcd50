"""Crossbar glue: personality, cookie store, realm store, authenticator and launcher.

This package is the only part of cfxstore that imports Crossbar. Importing it
does not import Crossbar or install a Twisted reactor; its modules do.
"""
