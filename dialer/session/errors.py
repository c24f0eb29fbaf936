"""The call session's exceptions, one small tree.

``SessionError``
    ├── ``ScriptNotFound`` — no YAML script of that name in the scripts library.
    └── ``AccountNotFound`` — the account (or its organisation) is not in the debt book.

Everything that goes wrong *during* a call (a script error, synthesis failing, the line
dropping) is not raised out of the session: the call ends politely and is stored as
failed with the reason (:attr:`~dialer.session.report.CallReport.failure_reason`).
"""

from __future__ import annotations

__all__ = ["AccountNotFound", "ScriptNotFound", "SessionError"]


class SessionError(Exception):
    """Base of every error the call session raises."""


class ScriptNotFound(SessionError):
    """The script named by a campaign or the command line does not exist."""


class AccountNotFound(SessionError):
    """The account to call is not in the debt book."""
