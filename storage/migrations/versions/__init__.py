"""Alembic revisions: ``0001_debt_book`` and the branches other parts add off it."""
