"""Debtor turn → tags, confidences and promise (date, amount), by ``shared/spec/tags.md``.

Other packages import :mod:`classifier.contract` only.
"""
