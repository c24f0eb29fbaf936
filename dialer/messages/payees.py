"""An organisation's message settings: its payee's bank details and the SMS template.

Read and saved here for both ``napomni messages payee`` and the web form; saving validates
everything first (:class:`~dialer.messages.payee.Payee`, :func:`check_template`), so a stored
row is always one a bank and the renderer accept.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from dialer.messages.content import check_template
from dialer.messages.errors import PayeeError
from dialer.messages.payee import Payee
from storage.models.messages import OrganisationPayee

__all__ = ["MessageSettings", "load_message_settings", "save_message_settings"]

_SENDER_MAX = 11  # an alphanumeric SMS sender name


@dataclass(frozen=True, slots=True)
class MessageSettings:
    """What an organisation's messages say and where the money goes."""

    payee: Payee
    template: str = ""  # empty: the default template
    sender: str = "Napomni"
    link_ttl_days: int = 30

    def __post_init__(self) -> None:
        if self.template:
            check_template(self.template)
        if not self.sender or len(self.sender) > _SENDER_MAX or not self.sender.isascii():
            raise PayeeError(f"имя отправителя СМС: от 1 до {_SENDER_MAX} латинских букв и цифр")
        if not 1 <= self.link_ttl_days <= 365:
            raise PayeeError("срок действия ссылки: от 1 до 365 дней")


def load_message_settings(session: Session, organisation_id: int) -> MessageSettings | None:
    """The organisation's settings, or ``None`` when it has none yet."""
    row = session.get(OrganisationPayee, organisation_id)
    if row is None:
        return None
    payee = Payee(
        name=row.name,
        inn=row.inn,
        bank_name=row.bank_name,
        bic=row.bic,
        settlement_account=row.settlement_account,
        correspondent_account=row.correspondent_account,
        kpp=row.kpp,
    )
    return MessageSettings(payee, row.template, row.sender, row.link_ttl_days)


def save_message_settings(
    session: Session, organisation_id: int, settings: MessageSettings
) -> None:
    """Store (insert or replace) the organisation's settings, already validated."""
    row = session.get(OrganisationPayee, organisation_id) or OrganisationPayee(
        organisation_id=organisation_id
    )
    payee = settings.payee
    row.name, row.inn, row.kpp = payee.name, payee.inn, payee.kpp
    row.bank_name, row.bic = payee.bank_name, payee.bic
    row.settlement_account = payee.settlement_account
    row.correspondent_account = payee.correspondent_account
    row.template, row.sender = settings.template, settings.sender
    row.link_ttl_days = settings.link_ttl_days
    session.add(row)
