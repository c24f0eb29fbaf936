"""The debt book and the queue: SQLAlchemy 2 models, sessions, migrations, 1С importers."""
