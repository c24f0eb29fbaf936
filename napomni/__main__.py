"""``python -m napomni`` runs the same command as ``napomni``."""

from napomni.cli import main

main()
