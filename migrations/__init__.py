"""Alembic migrations: the only source of Loupe's schema."""
