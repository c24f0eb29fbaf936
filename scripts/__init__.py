"""Dialogue scripts (YAML a collection team edits) and the pure engine that runs one."""
