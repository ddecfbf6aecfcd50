"""Command line interface of cfxstore (click)."""
