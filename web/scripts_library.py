"""Scripts as the web shows them: one organisation's library, a script's lines and versions,
saving an edit of the texts, and the rehearsal stage the application keeps.

Every function checks that the principal sees the organisation; the script parts live in
:mod:`dialer.script_library` and :mod:`dialer.rehearsal`.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.orm import Session

from dialer.rehearsal import RehearsalStage
from dialer.script_library import (
    LineKey,
    ScriptEdit,
    ScriptSummary,
    UnknownScript,
    editable_lines,
    library_summaries,
    resolve_script,
    script_source,
)
from storage.models import Organisation
from storage.script_versions import VersionInfo, script_history
from web.access import Principal
from web.errors import BadInput, NotFound

__all__ = [
    "REHEARSAL",
    "ScriptPage",
    "organisations_of",
    "parse_line_key",
    "rehearsal_ctx",
    "script_page",
    "scripts_of",
    "visible_organisation",
]

REHEARSAL = web.AppKey("rehearsal", RehearsalStage)
_PROJECT_MODELS = Path(__file__).resolve().parent.parent / "models"
_FIELD_TITLES = {"say": "Реплика", "reprompt": "Повтор вопроса"}


async def rehearsal_ctx(app: web.Application) -> AsyncIterator[None]:
    """The rehearsal stage: the project's classifier and voice, loaded on first use."""
    if REHEARSAL not in app:
        cache = Path(tempfile.gettempdir()) / "napomni-rehearsal-voice"
        app[REHEARSAL] = RehearsalStage(_PROJECT_MODELS, cache)
    yield
    app[REHEARSAL].close()


def organisations_of(session: Session, principal: Principal) -> list[tuple[int, str]]:
    """(id, name) of the organisations the principal sees, by name."""
    query = sa.select(Organisation.id, Organisation.name).order_by(Organisation.name)
    if principal.organisation_ids is not None:
        query = query.where(Organisation.id.in_(sorted(principal.organisation_ids)))
    return [(int(i), str(n)) for i, n in session.execute(query)]


def visible_organisation(
    session: Session, principal: Principal, organisation_id: int | None
) -> int:
    """The organisation asked for (else the principal's first); another's is "not found"."""
    if organisation_id is None:
        own = organisations_of(session, principal)
        if not own:
            raise NotFound("организация не найдена")
        return own[0][0]
    if (
        not principal.sees_organisation(organisation_id)
        or session.get(Organisation, organisation_id) is None
    ):
        raise NotFound("организация не найдена")
    return organisation_id


def scripts_of(
    session: Session, principal: Principal, organisation_id: int | None
) -> tuple[int, list[ScriptSummary]]:
    """The organisation (checked) and its library with titles, purposes and versions."""
    org = visible_organisation(session, principal, organisation_id)
    return org, library_summaries(session, org)


@dataclass(frozen=True, slots=True)
class FormLine:
    """One line of the edit form: its field name, label, text and problems."""

    name: str
    node: str
    label: str
    text: str
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScriptPage:
    """A script as its page shows it: a version's lines and the version history."""

    organisation_id: int
    name: str
    title: str
    purpose: str
    version: int
    latest: int
    lines: tuple[FormLine, ...]
    history: tuple[VersionInfo, ...]


def field_name(key: LineKey) -> str:
    """The form field of a line: ``line:<node>:<field>:<index>``."""
    return f"line:{key.node}:{key.field}:{key.index}"


def parse_line_key(name: str) -> LineKey | None:
    """The line a form field names; None for a field that is not a line."""
    parts = name.split(":")
    if len(parts) != 4 or parts[0] != "line" or parts[2] not in _FIELD_TITLES:
        return None
    if not parts[3].isascii() or not parts[3].isdigit() or len(parts[3]) > 4:
        raise BadInput(f"{name}: нет такой строки")
    return LineKey(parts[1], parts[2], int(parts[3]))


def form_lines(
    edits: list[ScriptEdit],
    typed: Mapping[LineKey, str] | None = None,
    problems: Mapping[tuple[str, str], list[str]] | None = None,
) -> tuple[FormLine, ...]:
    """The form's lines: the version's text, or what was typed, with problems beside each."""
    out = []
    for edit in edits:
        key = edit.key
        out.append(
            FormLine(
                name=field_name(key),
                node=key.node,
                label=f"{_FIELD_TITLES[key.field]} {key.index + 1}",
                text=(typed or {}).get(key, edit.text),
                problems=tuple((problems or {}).get((key.node, key.where), ())),
            )
        )
    return tuple(out)


def script_page(
    session: Session,
    principal: Principal,
    organisation_id: int | None,
    name: str,
    version: int | None,
    *,
    typed: Mapping[LineKey, str] | None = None,
    problems: Mapping[tuple[str, str], list[str]] | None = None,
) -> ScriptPage:
    """A version of the organisation's script (the newest when None) for its page."""
    org = visible_organisation(session, principal, organisation_id)
    try:
        found, text = script_source(session, org, name, version)
        latest, _ = script_source(session, org, name, None)
        script = resolve_script(session, org, name, found)
    except UnknownScript as err:
        raise NotFound(str(err)) from err
    return ScriptPage(
        organisation_id=org,
        name=name,
        title=script.title,
        purpose=script.purpose,
        version=found,
        latest=latest,
        lines=form_lines(editable_lines(text), typed, problems),
        history=tuple(script_history(session, org, name)),
    )
