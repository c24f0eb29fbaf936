"""Session cookies signed with the service's secret (itsdangerous), and CSRF tokens.

The cookie holds only ids: the user id, the user's ``session_epoch`` at sign-in (bumping
it in the database signs every session out), the session's server-side token (its row in
``web_sessions`` ends it: sign-out, password change, disabled user, idleness) and the
session's CSRF token. Anonymous
visitors get a cookie with a CSRF token too, so the login form itself is protected.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

__all__ = ["COOKIE_NAME", "CSRF_FIELD", "CSRF_HEADER", "SessionData", "SessionSigner"]

COOKIE_NAME = "napomni_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class SessionData:
    """What a session cookie carries."""

    csrf_token: str
    user_id: int | None = None
    epoch: int = 0
    token: str | None = None  # the server-side session's (``web_sessions``)

    @staticmethod
    def anonymous() -> SessionData:
        """A fresh session of somebody not signed in yet."""
        return SessionData(csrf_token=secrets.token_urlsafe(32))

    def signed_in(self, user_id: int, epoch: int, token: str) -> SessionData:
        """The session after signing in; a new CSRF token (no fixation)."""
        return SessionData(
            csrf_token=secrets.token_urlsafe(32), user_id=user_id, epoch=epoch, token=token
        )

    def csrf_matches(self, token: str | None) -> bool:
        """Constant-time comparison of a submitted token with the session's."""
        if not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token.encode())


class SessionSigner:
    """Signs and reads session cookies; a cookie older than ``max_age_s`` is refused."""

    def __init__(self, secret: str, max_age_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="napomni-session")
        self._max_age_s = max_age_s

    def dumps(self, data: SessionData) -> str:
        """The cookie value for ``data``."""
        payload: dict[str, object] = {"c": data.csrf_token}
        if data.user_id is not None:
            payload["u"] = data.user_id
            payload["e"] = data.epoch
            payload["s"] = data.token or ""
        return self._serializer.dumps(payload)

    def loads(self, value: str | None) -> SessionData | None:
        """The session in a cookie value, or ``None`` if absent, forged, expired or malformed."""
        if not value:
            return None
        try:
            payload = self._serializer.loads(value, max_age=self._max_age_s)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(payload, dict):
            return None
        csrf = payload.get("c")
        user_id = payload.get("u")
        epoch = payload.get("e", 0)
        token = payload.get("s")
        if not isinstance(csrf, str) or not isinstance(epoch, int):
            return None
        if user_id is not None and (not isinstance(user_id, int) or isinstance(user_id, bool)):
            return None
        if token is not None and not isinstance(token, str):
            return None
        return SessionData(csrf_token=csrf, user_id=user_id, epoch=epoch, token=token or None)
