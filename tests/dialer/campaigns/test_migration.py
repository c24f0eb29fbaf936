"""Migration 0003_campaigns creates exactly what the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from storage.models import Base

MINE = {
    "campaigns", "attempts", "calls", "turns", "promises", "escalation_cases",
    "organisation_policies", "stop_flags", "contact_ledger",
}  # fmt: skip


def _table_of(diff: object) -> str | None:
    for item in diff if isinstance(diff, list) else [diff]:
        for part in item if isinstance(item, tuple) else (item,):
            table = getattr(part, "table", None)
            name = getattr(table, "name", None) or getattr(part, "name", None)
            if isinstance(name, str) and (name in MINE or getattr(table, "name", None) in MINE):
                return name
    return None


def test_the_migration_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    mine = [d for d in diffs if _table_of(d) is not None]
    assert mine == []
