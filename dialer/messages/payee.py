"""An organisation's payee details, checked the way a bank checks them.

The checks are the Bank of Russia's: a БИК is 9 digits; a settlement account is 20 digits
whose control key (the 9th digit) makes the weighted sum of the БИК's last three digits and
the account, with weights 7 1 3 repeated, a multiple of 10; the correspondent account is
checked the same way against ``"0"`` and the БИК's 5th–6th digits; an ИНН of an organisation
has 10 digits and one control digit, of a person 12 digits and two.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialer.messages.errors import PayeeError

__all__ = ["Payee", "account_key_ok", "inn_ok"]

_ACCOUNT_WEIGHTS = ((7, 1, 3) * 8)[:23]
_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _digits(value: str, length: int, field: str) -> str:
    if len(value) != length or not value.isascii() or not value.isdigit():
        raise PayeeError(f"{field}: нужно {length} цифр")
    return value


def account_key_ok(prefix3: str, account: str) -> bool:
    """Whether ``account`` (20 digits) has the right control key for the 3-digit prefix."""
    digits = prefix3 + account
    return sum(int(d) * w for d, w in zip(digits, _ACCOUNT_WEIGHTS, strict=True)) % 10 == 0


def _control(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn_ok(inn: str) -> bool:
    """Whether an ИНН (10 digits for an organisation, 12 for a person) has valid controls."""
    if not inn.isascii() or not inn.isdigit():
        return False
    if len(inn) == 10:
        return _control(inn, _INN10) == int(inn[9])
    if len(inn) == 12:
        return _control(inn, _INN11) == int(inn[10]) and _control(inn, _INN12) == int(inn[11])
    return False


@dataclass(frozen=True, slots=True)
class Payee:
    """Who receives the payment and where: what the paper receipt prints (validated)."""

    name: str
    inn: str
    bank_name: str
    bic: str
    settlement_account: str
    correspondent_account: str
    kpp: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip() or "|" in self.name:
            raise PayeeError("получатель: нужно название без символа «|»")
        if not self.bank_name.strip() or "|" in self.bank_name:
            raise PayeeError("банк: нужно название без символа «|»")
        bic = _digits(self.bic, 9, "БИК")
        account = _digits(self.settlement_account, 20, "расчётный счёт")
        correspondent = _digits(self.correspondent_account, 20, "корреспондентский счёт")
        if not account_key_ok(bic[-3:], account):
            raise PayeeError("расчётный счёт: контрольный ключ не сходится с БИК")
        if not account_key_ok("0" + bic[4:6], correspondent):
            raise PayeeError("корреспондентский счёт: контрольный ключ не сходится с БИК")
        if not inn_ok(self.inn):
            raise PayeeError("ИНН: неверные контрольные цифры")
        if self.kpp is not None:
            _digits(self.kpp, 9, "КПП")
