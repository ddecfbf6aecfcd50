"""Persistent cookie authentication: Cookie records, the CookieStore schema and CookieService."""
