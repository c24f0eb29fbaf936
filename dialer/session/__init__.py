"""The call session: telephony ⇄ recognition ⇄ classifier ⇄ script ⇄ synthesis, stored.

:class:`CallSession` runs answered calls (:meth:`CallSession.run`);
:class:`~dialer.session.store.SqlCallLog` writes them; :mod:`dialer.session.phrasing`
gives the Russian words and the voice from :mod:`speech`.
"""

from dialer.session.errors import AccountNotFound, ScriptNotFound, SessionError
from dialer.session.machine import MachineDetector, detect_announcement
from dialer.session.ports import CallClosing, CallLog, Notice, Observer, Phrasing, Voice
from dialer.session.report import CallOpening, CallReport, TurnRecord
from dialer.session.session import CallContext, CallSession, SessionConfig, SessionParts

__all__ = [
    "AccountNotFound",
    "CallClosing",
    "CallContext",
    "CallLog",
    "CallOpening",
    "CallReport",
    "CallSession",
    "MachineDetector",
    "Notice",
    "Observer",
    "Phrasing",
    "ScriptNotFound",
    "SessionConfig",
    "SessionError",
    "SessionParts",
    "TurnRecord",
    "Voice",
    "detect_announcement",
]
