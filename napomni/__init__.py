"""Napomni's composition root: settings, logging and the ``napomni`` command.

The domain packages (``storage``, ``classifier``, ``speech``, ``scripts``, ``dialer``,
``web``) never import this package; it imports them and passes settings down.
"""
