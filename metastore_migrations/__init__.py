"""Alembic environment and versions of the meta store schema (shipped in the wheel)."""
