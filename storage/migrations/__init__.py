"""Alembic migrations of Napomni's database; run them with ``napomni db upgrade``."""
