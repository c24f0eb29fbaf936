"""Finding the organisation an import or a report is about."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.errors import OrganisationNotFound
from storage.models import Organisation

__all__ = ["DEFAULT_ORGANISATION", "ensure_organisation", "find_organisation"]

DEFAULT_ORGANISATION = "Управляющая компания"


def find_organisation(session: Session, name: str | None) -> Organisation:
    """The organisation called ``name``; without a name, the only one in the database."""
    if name is not None:
        found = session.scalars(sa.select(Organisation).where(Organisation.name == name)).first()
        if found is None:
            raise OrganisationNotFound(f"организация «{name}» не найдена")
        return found
    organisations = session.scalars(sa.select(Organisation).order_by(Organisation.name)).all()
    if len(organisations) == 1:
        return organisations[0]
    if not organisations:
        raise OrganisationNotFound("в базе нет ни одной организации: сначала импортируйте долги")
    names = ", ".join(f"«{o.name}»" for o in organisations[:10])
    raise OrganisationNotFound(f"в базе несколько организаций ({names}): укажите --org")


def ensure_organisation(session: Session, name: str | None) -> Organisation:
    """The organisation called ``name``, created if new; without a name, the only one or a default."""
    try:
        return find_organisation(session, name)
    except OrganisationNotFound:
        if name is None and session.scalar(sa.select(sa.func.count(Organisation.id))):
            raise
    organisation = Organisation(name=name or DEFAULT_ORGANISATION)
    session.add(organisation)
    session.flush()
    return organisation
