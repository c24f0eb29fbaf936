"""Who is asking and what they may see: the signed-in principal, role policies, masking.

Deny by default: every route is registered with a :class:`Policy`; the middleware refuses
a route that has none. Organisation checks are made where the data is loaded
(:meth:`Principal.sees_organisation`), and a thing of an organisation the user may not
see is answered as "not found", so its existence does not leak.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from storage.models.users import UserRole

__all__ = [
    "ALL_ROLES",
    "CAMPAIGN_ROLES",
    "CARD_ROLES",
    "ESCALATION_ROLES",
    "REPORT_ROLES",
    "Policy",
    "Principal",
    "mask_document",
    "mask_phone",
    "public",
    "roles",
]


@dataclass(frozen=True, slots=True)
class Policy:
    """Who may call one route: anybody (``public``) or signed-in users of these roles."""

    public: bool
    allowed: frozenset[UserRole]

    def allows(self, role: UserRole) -> bool:
        """Whether a signed-in user of ``role`` may call the route."""
        return self.public or role in self.allowed

    def describe(self) -> str:
        """The policy in words, for the OpenAPI document."""
        if self.public:
            return "без входа"
        return "роли: " + ", ".join(sorted(role.value for role in self.allowed))


def public() -> Policy:
    """A route anybody may call without signing in (health, login, static files)."""
    return Policy(public=True, allowed=frozenset())


def roles(*allowed: UserRole) -> Policy:
    """A route for signed-in users of the given roles only."""
    if not allowed:
        raise ValueError("a role policy needs at least one role")
    return Policy(public=False, allowed=frozenset(allowed))


ALL_ROLES = tuple(UserRole)
# Account cards: everyone who works the debts; managers read reports only.
CARD_ROLES = (UserRole.ADMIN, UserRole.CAMPAIGN_MANAGER, UserRole.COLLECTOR)
CAMPAIGN_ROLES = (UserRole.ADMIN, UserRole.CAMPAIGN_MANAGER)
ESCALATION_ROLES = (UserRole.ADMIN, UserRole.COLLECTOR)
REPORT_ROLES = (UserRole.ADMIN, UserRole.CAMPAIGN_MANAGER, UserRole.MANAGER)


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in user of one request.

    ``organisation_ids`` is ``None`` for an admin (every organisation).
    """

    user_id: int
    login: str
    display_name: str
    role: UserRole
    organisation_ids: frozenset[int] | None
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        """Admins see every organisation and identity documents."""
        return self.role is UserRole.ADMIN

    @property
    def actor(self) -> str:
        """How this user is named in the contact history (``user:<id>``)."""
        return f"user:{self.user_id}"

    def sees_organisation(self, organisation_id: int) -> bool:
        """Whether this user may see data of ``organisation_id``."""
        return self.organisation_ids is None or organisation_id in self.organisation_ids

    def visible(self, organisation_ids: Iterable[int]) -> list[int]:
        """The subset of ``organisation_ids`` this user may see."""
        return [org for org in organisation_ids if self.sees_organisation(org)]

    @property
    def sees_documents(self) -> bool:
        """Passport, СНИЛС and ИНН are shown to admins only."""
        return self.is_admin


def mask_phone(number: str) -> str:
    """``+79161234567`` → ``+7 916 ***-**-67``: enough to tell numbers apart, not to dial."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) < 6:
        return "***"
    if len(digits) == 11 and digits[0] in "78":
        return f"+7 {digits[1:4]} ***-**-{digits[-2:]}"
    return f"+{digits[:2]}***{digits[-2:]}"


def mask_document(value: str | None) -> str | None:
    """Identity documents for everyone but admins: only that one is on file."""
    if value is None or value == "":
        return None
    return "скрыто"
