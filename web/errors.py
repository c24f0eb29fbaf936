"""The web service's exceptions.

``WebError``
    ``ConfigError`` — the service cannot start with the configuration it was given.
    ``RequestRefused`` — a request cannot be served; carries the HTTP status and a Russian
    message for the user.
        ``BadInput`` (400), ``NotSignedIn`` (401), ``Forbidden`` (403), ``NotFound`` (404),
        ``Conflict`` (409).
    ``UserError`` — a user cannot be created or changed (``napomni user``).
"""

from __future__ import annotations

__all__ = [
    "BadInput",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "NotFound",
    "NotSignedIn",
    "RequestRefused",
    "UserError",
    "WebError",
]


class WebError(Exception):
    """Base of every exception raised by :mod:`web`."""


class ConfigError(WebError):
    """The service cannot start with this configuration."""


class UserError(WebError):
    """A user cannot be created or changed; the message says why, in Russian."""


class RequestRefused(WebError):
    """A request that cannot be served; the middleware turns it into an HTTP answer."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(RequestRefused):
    """The request's parameters or body are wrong; the message names the field."""

    status = 400


class NotSignedIn(RequestRefused):
    """No valid session: pages redirect to the login page, the API answers 401."""

    status = 401


class Forbidden(RequestRefused):
    """The user is signed in but their role does not allow this."""

    status = 403


class NotFound(RequestRefused):
    """No such thing, or it belongs to an organisation the user may not see."""

    status = 404


class Conflict(RequestRefused):
    """The thing is in a state that does not allow this (a campaign already stopped…)."""

    status = 409
