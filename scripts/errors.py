"""The exceptions of ``scripts``, one small tree.

``ScriptError``
    ``ScriptInvalid`` — a script file cannot be used; the message names the file, the node and
    the field (``soft_reminder.yaml: node 'identity', field 'on.confirm': unknown node 'debtt'``).
    ``VariablesMissing`` — the account lacks a value the script speaks (a broken-promise script
    for an account with no promise on record).
    ``ConversationError`` — an event the conversation cannot take (a turn before the call was
    answered), or a rule the engine enforces at run time (a debt detail before the debtor
    confirmed who they are).
"""

from __future__ import annotations

__all__ = ["ScriptError", "ScriptInvalid", "VariablesMissing", "ConversationError"]


class ScriptError(Exception):
    """Base of every error ``scripts`` raises."""


class ScriptInvalid(ScriptError, ValueError):
    """A script file fails validation; :attr:`problems` lists every problem found.

    :attr:`places` holds the same problems as (node or None, field, message), for a form that
    shows each next to its field (empty when the problem has no place, e.g. not YAML).
    """

    def __init__(
        self, problems: list[str], places: tuple[tuple[str | None, str, str], ...] = ()
    ) -> None:
        self.problems = tuple(problems)
        self.places = places
        super().__init__("\n".join(problems))


class VariablesMissing(ScriptError, ValueError):
    """The account has no value for a variable the script uses."""


class ConversationError(ScriptError, RuntimeError):
    """The conversation cannot take this event or would break a rule of the engine."""
