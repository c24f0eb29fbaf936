"""Mapped classes of the debt book and everything added on top of it."""

from storage.models.base import MONEY, Base, Money, UtcDateTime

__all__ = ["Base", "MONEY", "Money", "UtcDateTime"]
