"""The organisation's script library: what the web lists, edits and the worker runs.

A script is the library file (``scripts/library/<name>.yaml``, version 1) until an
organisation saves an edit of its wording on the web; each save is a new version in the
database (:mod:`storage.script_versions`), validated by the same loader as the files. Only
the texts (each node's ``say`` and ``reprompt`` lines) are editable here: the branching stays
what the library's authors tested. A campaign pins the versions it was created with and the
worker resolves (organisation, name, version) back to a script.

Names are checked against the library before anything is read, so a name never becomes a
path outside it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import yaml
from sqlalchemy.orm import Session

from scripts.errors import ScriptInvalid
from scripts.loader import library_script, parse_script, read_yaml, shipped_scripts
from scripts.model import Script
from storage.script_versions import (
    LIBRARY_VERSION,
    latest_versions,
    pin_campaign_scripts,
    pinned_version,
    save_script_version,
    script_version_text,
)

__all__ = [
    "EDITABLE_FIELDS",
    "LineKey",
    "ScriptEdit",
    "ScriptEditInvalid",
    "ScriptSummary",
    "UnknownScript",
    "apply_texts",
    "campaign_script",
    "editable_lines",
    "library_summaries",
    "pin_campaign",
    "resolve_script",
    "save_texts",
    "script_source",
]

EDITABLE_FIELDS = ("say", "reprompt")
_MAX_LINE_CHARS = 1000


class UnknownScript(LookupError):
    """The name is not one of the library's scripts (or not a version the organisation has)."""


@dataclass(frozen=True, slots=True)
class LineKey:
    """Where a line lives: node, field (``say``/``reprompt``) and its index in the field."""

    node: str
    field: str
    index: int

    @property
    def where(self) -> str:
        """The field as the loader names it: ``say[0]``."""
        return f"{self.field}[{self.index}]"


@dataclass(frozen=True, slots=True)
class ScriptEdit:
    """One line of a script as the edit form shows it."""

    key: LineKey
    text: str


@dataclass(frozen=True, slots=True)
class ScriptSummary:
    """A library script as the list shows it, with the organisation's newest version."""

    name: str
    title: str
    purpose: str
    version: int
    nodes: int


class ScriptEditInvalid(ValueError):
    """The edited script fails the loader: ``by_field`` maps (node, field) to messages."""

    def __init__(self, problems: tuple[str, ...], by_field: Mapping[tuple[str, str], list[str]]):
        super().__init__("\n".join(problems))
        self.problems = problems
        self.by_field = by_field


def _check_name(name: str) -> None:
    if name not in shipped_scripts():
        raise UnknownScript(f"сценария {name!r} нет в библиотеке")


@functools.cache
def _library_text(name: str) -> str:
    return library_script(name).read_text(encoding="utf-8")


def script_source(
    session: Session, organisation_id: int, name: str, version: int | None = None
) -> tuple[int, str]:
    """(version, YAML text) of the organisation's script: ``version`` or the newest."""
    _check_name(name)
    stored = script_version_text(session, organisation_id, name, version)
    if stored is not None:
        return stored
    if version in (None, LIBRARY_VERSION):
        return LIBRARY_VERSION, _library_text(name)
    raise UnknownScript(f"у сценария {name!r} нет версии {version}")


def _parse(name: str, version: int, text: str) -> Script:
    script = parse_script(text, source=f"{name}.yaml" if version == LIBRARY_VERSION else name)
    if script.name != name:
        raise ScriptInvalid([f"{name}: поле script должно остаться {name!r}"])
    return script


@functools.lru_cache(maxsize=256)
def _parsed(name: str, version: int, text: str) -> Script:
    # Keyed by the text too: a version's text never changes, but a library file may.
    return _parse(name, version, text)


def resolve_script(
    session: Session, organisation_id: int, name: str, version: int | None = None
) -> Script:
    """The script a call runs: the organisation's stored ``version`` (the newest when None),
    else the library file."""
    found, text = script_source(session, organisation_id, name, version)
    return _parsed(name, found, text)


def library_summaries(session: Session, organisation_id: int) -> list[ScriptSummary]:
    """Every library script with its title, purpose and the organisation's newest version."""
    latest = latest_versions(session, organisation_id)
    out = []
    for name in shipped_scripts():
        script = resolve_script(session, organisation_id, name, latest.get(name))
        out.append(
            ScriptSummary(
                name=name,
                title=script.title,
                purpose=script.purpose,
                version=latest.get(name, LIBRARY_VERSION),
                nodes=len(script.nodes),
            )
        )
    return out


def _load_yaml(text: str) -> dict[str, object]:
    # Only a text the loader accepted is edited, so this is a mapping of nodes.
    # The loader's reading: YAML 1.1 would turn the ``on:`` keys into booleans.
    data = read_yaml(text)
    if not isinstance(data, dict):
        raise ScriptInvalid(["сценарий: ожидается словарь"])
    return data


def editable_lines(text: str) -> list[ScriptEdit]:
    """Every ``say``/``reprompt`` line of every node, in the file's order."""
    data = _load_yaml(text)
    nodes = data.get("nodes")
    out: list[ScriptEdit] = []
    if not isinstance(nodes, dict):
        return out
    for node, raw in nodes.items():
        if not isinstance(raw, dict):
            continue
        for field in EDITABLE_FIELDS:
            items = raw.get(field)
            items = items if isinstance(items, list) else [] if items is None else [items]
            for i, item in enumerate(items):
                line = item.get("text") if isinstance(item, dict) else item
                out.append(ScriptEdit(LineKey(str(node), field, i), str(line or "")))
    return out


def apply_texts(text: str, edits: Mapping[LineKey, str]) -> str:
    """The YAML ``text`` with the edited lines replaced; the structure is left as it was.

    A key that names no existing line is refused (the form never adds lines or nodes).
    """
    data = _load_yaml(text)
    nodes = data.get("nodes")
    if not isinstance(nodes, dict):
        raise ScriptInvalid(["сценарий: нет узлов"])
    for key, new in edits.items():
        raw = nodes.get(key.node)
        items = raw.get(key.field) if isinstance(raw, dict) else None
        if isinstance(raw, dict) and isinstance(items, str) and key.index == 0:
            raw[key.field] = new
            continue
        if not isinstance(items, list) or not 0 <= key.index < len(items):
            raise UnknownScript(f"узел {key.node!r}: нет строки {key.where}")
        if isinstance(items[key.index], dict):
            items[key.index]["text"] = new
        else:
            items[key.index] = new
    # Comments of the library file are not carried over: the versions keep the data only.
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def save_texts(
    session: Session,
    organisation_id: int,
    name: str,
    edits: Mapping[LineKey, str],
    *,
    author_id: int | None,
    base_version: int | None = None,
) -> int:
    """Validate the edited texts with the loader and store them as the next version.

    Raises :class:`ScriptEditInvalid` (nothing written) with the problems by node and field.
    """
    for key, new in edits.items():
        if len(new) > _MAX_LINE_CHARS:
            raise ScriptEditInvalid(
                (f"узел {key.node!r}, {key.where}: не длиннее {_MAX_LINE_CHARS} символов",),
                {(key.node, key.where): [f"не длиннее {_MAX_LINE_CHARS} символов"]},
            )
    _, text = script_source(session, organisation_id, name, base_version)
    new_text = apply_texts(text, edits)
    try:
        _parse(name, 2, new_text)
    except ScriptInvalid as err:
        by_field: dict[tuple[str, str], list[str]] = {}
        for node, field, message in err.places:
            by_field.setdefault((node or "", field), []).append(message)
        raise ScriptEditInvalid(err.problems, by_field) from err
    return save_script_version(
        session,
        organisation_id,
        name,
        new_text,
        author_id=author_id,
        library_text=_library_text(name),
    )


def pin_campaign(
    session: Session, campaign_id: int, organisation_id: int, names: Iterable[str | None]
) -> dict[str, int]:
    """Pin the organisation's newest version of each named script to the campaign."""
    return pin_campaign_scripts(
        session, campaign_id, organisation_id, sorted({n for n in names if n})
    )


def campaign_script(session: Session, organisation_id: int, campaign_id: int, name: str) -> Script:
    """The script an attempt of the campaign runs: its pinned version (a campaign made
    elsewhere, with none pinned, runs the organisation's newest)."""
    return resolve_script(
        session, organisation_id, name, pinned_version(session, campaign_id, name)
    )
