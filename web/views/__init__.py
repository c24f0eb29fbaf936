"""Request handlers, one module per area; each exposes ``register(table)``."""
