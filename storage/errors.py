"""The storage package's exceptions: one small tree under :class:`StorageError`.

Import failures have their own subtree in :mod:`storage.importing.errors`, rooted at
``ImportFailed``, which also derives from :class:`StorageError`.
"""

from __future__ import annotations

__all__ = ["CollectorLineRefused", "OrganisationNotFound", "StorageError"]


class StorageError(Exception):
    """Something the debt book cannot do; the message is for the user, in Russian."""


class OrganisationNotFound(StorageError):
    """No organisation by that name (or several and none named)."""


class CollectorLineRefused(StorageError):
    """A collector's extension or line status cannot be set; the message names the field."""
