"""Alembic migrations of kb's database schema (see README.md here for adding one)."""
