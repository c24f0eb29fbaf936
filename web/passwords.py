"""Password hashing with argon2id (argon2-cffi); only hashes are ever stored."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from web.errors import UserError

__all__ = ["MIN_PASSWORD_LENGTH", "check_password_strength", "hash_password", "verify_password"]

MIN_PASSWORD_LENGTH = 10
_HASHER = PasswordHasher()
# Verified against when the login is unknown, so both answers take the same time.
_DUMMY_HASH = _HASHER.hash("napomni-no-such-user")


def check_password_strength(password: str) -> None:
    """Refuse passwords too short to protect personal data."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"пароль короче {MIN_PASSWORD_LENGTH} символов")
    if password.strip() != password:
        raise UserError("пароль не должен начинаться или заканчиваться пробелом")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (CPU-heavy: call it off the event loop)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``None`` (unknown login) costs the same and is False."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
