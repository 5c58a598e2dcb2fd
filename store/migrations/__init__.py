"""Alembic migration environment of the store (a package so that it is installed with it)."""
