"""Reading a script from YAML and validating it into a :class:`~scripts.model.Script`.

Every problem is collected (not just the first) and reported with the file, the node and
the field, so a collection team fixing a script sees all of them at once::

    warning.yaml: node 'debt', field 'say[1]': unknown variable {dept}
    warning.yaml: node 'identity', field 'on.confrim': unknown tag 'confrim'

Beyond the shape, the loader enforces the rules every script must keep: every node is
reachable; every asking node has a branch for every tag of the spec; the script asks who it
speaks to; and no debt detail (amount, address, months, пени, payments, promises) and no
payment message can happen in a node reachable before the debtor confirmed who they are.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import yaml

from classifier.contract import Asked, Tag
from scripts.actions import MessageKind, OutcomeKind, Priority
from scripts.errors import ScriptInvalid
from scripts.model import (
    DEFAULT_TAG_ORDER,
    REPEAT,
    Branch,
    Choice,
    EscalationSpec,
    Guard,
    Line,
    Node,
    Script,
    VarRef,
)
from scripts.values import CASES, VARIABLES, Case, VariableKind

__all__ = [
    "LIBRARY_DIR",
    "is_script_name",
    "library_script",
    "load_script",
    "parse_script",
    "read_yaml",
    "shipped_scripts",
]

LIBRARY_DIR = Path(__file__).resolve().parent / "library"

_SCRIPT_FIELDS = {
    "script", "title", "purpose", "start", "give_up", "max_misunderstood", "timeout_s", "on", "otherwise",
    "silence", "dtmf", "nodes", "tag_order",
}  # fmt: skip
_NODE_FIELDS = {
    "say", "reprompt", "ask", "timeout_s", "on", "otherwise", "silence", "dtmf", "next",
    "confirm_promise", "send", "escalate", "end",
}  # fmt: skip
_DTMF_KEYS = set("0123456789*#")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SCRIPT_NAME = re.compile(r"[a-z0-9_]+")
_NAME = re.compile(r"^([a-z_]+)(?::([a-z]+))?$")
_E = TypeVar("_E", Asked, Guard, MessageKind, OutcomeKind, Priority)
_CASED_KINDS = {VariableKind.AMOUNT, VariableKind.DATE, VariableKind.COUNT, VariableKind.WEEKDAY}


# libyaml's parser when present (about ten times faster); the resolver below works with both.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _YamlLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """YAML 1.1 reads ``on``, ``off``, ``yes``, ``no`` as booleans; a script's ``on:`` field and
    answers like «да»/«нет» must stay strings, so only ``true``/``false`` are booleans here."""


_YamlLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def library_script(name: str) -> Path:
    """The path of a shipped script by name (``warning`` → ``scripts/library/warning.yaml``).

    A name is a plain identifier (``[a-z0-9_]+``) and the path never leaves the library:
    ``../../var/evil`` and the like raise :class:`ScriptInvalid`.
    """
    if not is_script_name(name):
        raise ScriptInvalid([f"{name!r}: имя сценария — латиница в нижнем регистре, цифры и _"])
    path = (LIBRARY_DIR / f"{name}.yaml").resolve()
    if path.parent != LIBRARY_DIR:
        raise ScriptInvalid([f"{name!r}: сценарий вне библиотеки"])
    return path


def is_script_name(name: str) -> bool:
    """Whether ``name`` is a plain script name: ``[a-z0-9_]+``, nothing that makes a path."""
    return _SCRIPT_NAME.fullmatch(name) is not None


def shipped_scripts() -> tuple[str, ...]:
    """Names of the scripts shipped in ``scripts/library``."""
    return tuple(sorted(p.stem for p in LIBRARY_DIR.glob("*.yaml")))


def load_script(path: Path | str) -> Script:
    """Read and validate the script at ``path``; raise :class:`ScriptInvalid` listing problems."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScriptInvalid([f"{path}: не удаётся прочитать файл: {err.strerror}"]) from err
    return parse_script(text, source=path.name)


def read_yaml(text: str) -> object:
    """The YAML ``text`` read as scripts read it (``on``/``yes``/``no`` stay strings).

    For tools that change a script's data and write it back; raises :class:`yaml.YAMLError`.
    """
    return yaml.load(text, Loader=_YamlLoader)


def parse_script(text: str, *, source: str) -> Script:
    """Validate the YAML ``text`` of a script; ``source`` names it in messages."""
    try:
        data = yaml.load(text, Loader=_YamlLoader)
    except yaml.YAMLError as err:
        raise ScriptInvalid([f"{source}: не YAML: {err}"]) from err
    builder = _Builder(source)
    script = builder.build(data)
    if builder.problems or script is None:
        raise ScriptInvalid(
            builder.problems or [f"{source}: пустой сценарий"], tuple(builder.places)
        )
    return script


class _Builder:
    """Turns parsed YAML into a script, collecting every problem on the way."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.places: list[tuple[str | None, str, str]] = []

    def problem(self, node: str | None, field: str, message: str) -> None:
        where = f"node '{node}', field '{field}'" if node else f"field '{field}'"
        self.problems.append(f"{self.source}: {where}: {message}")
        self.places.append((node, field, message))

    # --- the script ---------------------------------------------------------------

    def build(self, data: object) -> Script | None:
        if not isinstance(data, dict):
            self.problems.append(f"{self.source}: ожидается словарь с полями script, nodes, …")
            return None
        for key in data:
            if key not in _SCRIPT_FIELDS:
                self.problem(None, str(key), "неизвестное поле")
        name = self.text(None, "script", data.get("script"))
        stem = self.source.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")
        if name and stem != name and self.source.endswith((".yaml", ".yml")):
            self.problem(None, "script", f"имя '{name}' не совпадает с именем файла '{stem}'")
        raw_nodes = data.get("nodes")
        if not isinstance(raw_nodes, dict) or not raw_nodes:
            self.problem(None, "nodes", "нужен словарь узлов")
            return None
        node_names = {str(k) for k in raw_nodes}
        self.node_names = node_names
        nodes = {str(k): self.node(str(k), v) for k, v in raw_nodes.items()}
        timeout_s = self.positive(None, "timeout_s", data.get("timeout_s", 6))
        max_mis = data.get("max_misunderstood", 2)
        if not isinstance(max_mis, int) or isinstance(max_mis, bool) or max_mis < 1:
            self.problem(None, "max_misunderstood", "целое число ≥ 1")
            max_mis = 2
        script = Script(
            name=name,
            title=self.text(None, "title", data.get("title")),
            purpose=self.text(None, "purpose", data["purpose"]) if "purpose" in data else "",
            source=self.source,
            start=self.node_ref(None, "start", data.get("start")),
            give_up=self.node_ref(None, "give_up", data.get("give_up")),
            max_misunderstood=max_mis,
            timeout_s=timeout_s,
            nodes=MappingProxyType(nodes),
            on=self.tag_branches(None, data.get("on", {})),
            otherwise=self.branch(None, "otherwise", data.get("otherwise"), ask=True),
            silence=self.branch(None, "silence", data.get("silence"), ask=True),
            dtmf=self.dtmf(None, data.get("dtmf", {})),
            tag_order=self.tag_order(data.get("tag_order")),
        )
        if self.problems:
            return script
        _Rules(self, script).check()
        return script

    def tag_order(self, raw: object) -> tuple[Tag, ...]:
        if raw is None:
            return DEFAULT_TAG_ORDER
        if not isinstance(raw, list):
            self.problem(None, "tag_order", "список всех тегов")
            return DEFAULT_TAG_ORDER
        tags = [self.tag(None, f"tag_order[{i}]", t) for i, t in enumerate(raw)]
        if set(tags) != set(Tag) or len(tags) != len(Tag):
            self.problem(None, "tag_order", "должен перечислить каждый тег спецификации один раз")
            return DEFAULT_TAG_ORDER
        return tuple(t for t in tags if t is not None)

    # --- one node -----------------------------------------------------------------

    def node(self, name: str, raw: object) -> Node:
        if not isinstance(raw, dict):
            self.problem(name, "", "узел должен быть словарём полей")
            return Node(name=name)
        for key in raw:
            if key not in _NODE_FIELDS:
                self.problem(name, str(key), "неизвестное поле")
        ask = self.choice_of(name, "ask", raw.get("ask"), Asked) if "ask" in raw else None
        kinds = [k for k in ("ask", "next", "end") if k in raw]
        if len(kinds) != 1:
            self.problem(name, "ask/next/end", "у узла должно быть ровно одно из ask, next, end")
        if ask is None:
            for key in ("on", "otherwise", "silence", "dtmf", "reprompt", "timeout_s"):
                if key in raw:
                    self.problem(name, key, "имеет смысл только в узле с ask")
        say = self.lines(name, "say", raw.get("say"))
        if ask is not None and not say:
            self.problem(name, "say", "узел с вопросом должен что-то сказать")
        escalate = self.escalation(name, raw["escalate"]) if "escalate" in raw else None
        confirm = raw.get("confirm_promise", False)
        if not isinstance(confirm, bool):
            self.problem(name, "confirm_promise", "true или false")
            confirm = False
        return Node(
            name=name,
            say=say,
            reprompt=self.lines(name, "reprompt", raw.get("reprompt")),
            ask=ask,
            timeout_s=self.positive(name, "timeout_s", raw["timeout_s"])
            if "timeout_s" in raw
            else None,
            on=self.tag_branches(name, raw.get("on", {})),
            otherwise=self.branch(name, "otherwise", raw.get("otherwise"), ask=True),
            silence=self.branch(name, "silence", raw.get("silence"), ask=True),
            dtmf=self.dtmf(name, raw.get("dtmf", {})),
            next=self.branch(name, "next", raw.get("next"), ask=False),
            confirm_promise=confirm,
            send=self.choice_of(name, "send", raw["send"], MessageKind) if "send" in raw else None,
            escalate=escalate,
            end=self.choice_of(name, "end", raw["end"], OutcomeKind) if "end" in raw else None,
        )

    def escalation(self, node: str, raw: object) -> EscalationSpec | None:
        if not isinstance(raw, dict):
            self.problem(node, "escalate", "словарь reason, priority, transfer")
            return None
        for key in raw:
            if key not in {"reason", "priority", "transfer"}:
                self.problem(node, f"escalate.{key}", "неизвестное поле")
        transfer = raw.get("transfer", False)
        if not isinstance(transfer, bool):
            self.problem(node, "escalate.transfer", "true или false")
            transfer = False
        priority = self.choice_of(
            node, "escalate.priority", raw.get("priority", "normal"), Priority
        )
        return EscalationSpec(
            reason=self.text(node, "escalate.reason", raw.get("reason")),
            priority=priority or Priority.NORMAL,
            transfer=transfer,
        )

    # --- texts --------------------------------------------------------------------

    def lines(self, node: str, field: str, raw: object) -> tuple[Line, ...]:
        if raw is None:
            return ()
        items = raw if isinstance(raw, list) else [raw]
        lines: list[Line] = []
        for i, item in enumerate(items):
            where = f"{field}[{i}]"
            interruptible = True
            if isinstance(item, dict):
                for key in item:
                    if key not in {"text", "interruptible"}:
                        self.problem(node, f"{where}.{key}", "неизвестное поле")
                flag = item.get("interruptible", True)
                if not isinstance(flag, bool):
                    self.problem(node, f"{where}.interruptible", "true или false")
                else:
                    interruptible = flag
                item = item.get("text")
            if not isinstance(item, str) or not item.strip():
                self.problem(node, where, "ожидается непустой текст")
                continue
            lines.append(Line(self.template(node, where, item.strip()), interruptible))
        return tuple(lines)

    def template(self, node: str, where: str, text: str) -> tuple[str | VarRef, ...]:
        parts: list[str | VarRef] = []
        pos = 0
        for match in _PLACEHOLDER.finditer(text):
            if match.start() > pos:
                parts.append(text[pos : match.start()])
            pos = match.end()
            ref = self.var_ref(node, where, match.group(1).strip())
            if ref is not None:
                parts.append(ref)
        if pos < len(text):
            parts.append(text[pos:])
        leftover = _PLACEHOLDER.sub("", text)
        if "{" in leftover or "}" in leftover:
            self.problem(node, where, "непарная фигурная скобка")
        return tuple(parts)

    def var_ref(self, node: str, where: str, inner: str) -> VarRef | None:
        match = _NAME.match(inner)
        if match is None:
            self.problem(node, where, f"не понимаю подстановку {{{inner}}}")
            return None
        name, case = match.group(1), match.group(2)
        spec = VARIABLES.get(name)
        if spec is None:
            known = ", ".join(sorted(VARIABLES))
            self.problem(node, where, f"неизвестная переменная {{{name}}} (есть: {known})")
            return None
        if case is None:
            return VarRef(name, None)
        if case not in CASES:
            self.problem(
                node, where, f"неизвестный падеж '{case}' в {{{inner}}} (есть: {', '.join(CASES)})"
            )
            return None
        if spec.kind not in _CASED_KINDS:
            self.problem(node, where, f"{{{name}}} произносится как написано, падеж не ставится")
            return None
        checked: Case = next(c for c in CASES if c == case)
        return VarRef(name, checked)

    # --- branches -----------------------------------------------------------------

    def tag_branches(self, node: str | None, raw: object) -> Mapping[Tag, Branch]:
        if not isinstance(raw, dict):
            self.problem(node, "on", "словарь «тег: куда идти»")
            return MappingProxyType({})
        out: dict[Tag, Branch] = {}
        for key, value in raw.items():
            tag = self.tag(node, f"on.{key}", key)
            branch = self.branch(node, f"on.{key}", value, ask=True)
            if tag is not None and branch is not None:
                out[tag] = branch
        return MappingProxyType(out)

    def dtmf(self, node: str | None, raw: object) -> Mapping[str, Branch]:
        if not isinstance(raw, dict):
            self.problem(node, "dtmf", "словарь «клавиша: куда идти»")
            return MappingProxyType({})
        out: dict[str, Branch] = {}
        for key, value in raw.items():
            digit = str(key)
            if digit not in _DTMF_KEYS:
                self.problem(node, f"dtmf.{digit}", "клавиша 0–9, * или #")
                continue
            branch = self.branch(node, f"dtmf.{digit}", value, ask=True)
            if branch is not None:
                out[digit] = branch
        return MappingProxyType(out)

    def branch(self, node: str | None, field: str, raw: object, *, ask: bool) -> Branch | None:
        if raw is None:
            return None
        where = f"{node or 'script'}/{field}"
        items = [{"go": raw}] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items:
            self.problem(node, field, "имя узла или список вариантов {go, when}")
            return None
        choices: list[Choice] = []
        for i, item in enumerate(items):
            sub = field if isinstance(raw, str) else f"{field}[{i}]"
            if not isinstance(item, dict) or "go" not in item:
                self.problem(node, sub, "вариант должен иметь go: узел")
                continue
            for key in item:
                if key not in {"go", "when"}:
                    self.problem(node, f"{sub}.{key}", "неизвестное поле")
            target = item["go"]
            if target == REPEAT and not ask:
                self.problem(node, sub, "repeat возможен только в ответ на вопрос")
            elif target != REPEAT:
                target = self.node_ref(node, sub, target)
            when = (
                self.choice_of(node, f"{sub}.when", item["when"], Guard) if "when" in item else None
            )
            choices.append(Choice(go=str(target), when=when))
        if choices and choices[-1].when is not None:
            self.problem(node, field, "последний вариант должен быть без when (иначе некуда идти)")
        return Branch(tuple(choices), where)

    # --- scalars ------------------------------------------------------------------

    def node_ref(self, node: str | None, field: str, raw: object) -> str:
        if not isinstance(raw, str) or raw not in self.node_names:
            self.problem(node, field, f"неизвестный узел {raw!r}")
        return str(raw)

    def tag(self, node: str | None, field: str, raw: object) -> Tag | None:
        try:
            return Tag(str(raw))
        except ValueError:
            known = ", ".join(t.value for t in Tag)
            self.problem(node, field, f"неизвестный тег '{raw}' (есть: {known})")
            return None

    def choice_of(self, node: str | None, field: str, raw: object, enum: type[_E]) -> _E | None:
        try:
            return enum(str(raw))
        except ValueError:
            known = ", ".join(e.value for e in enum)
            self.problem(node, field, f"недопустимое значение '{raw}' (есть: {known})")
            return None

    def text(self, node: str | None, field: str, raw: object) -> str:
        if not isinstance(raw, str) or not raw.strip():
            self.problem(node, field, "ожидается непустой текст")
            return ""
        return raw.strip()

    def positive(self, node: str | None, field: str, raw: object) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
            self.problem(node, field, "положительное число секунд")
            return 6.0
        return float(raw)


class _Rules:
    """The structural rules: coverage, reachability, no loop without a question, no disclosure."""

    def __init__(self, builder: _Builder, script: Script) -> None:
        self.builder = builder
        self.script = script

    def check(self) -> None:
        self.every_tag_has_a_branch()
        self.give_up_ends()
        self.no_silent_loops()
        pre_identity = self.reachable(stop_at_identity=True)
        everything = self.reachable(stop_at_identity=False)
        for name in self.script.nodes:
            if name not in everything:
                self.builder.problem(name, "", "узел недостижим из start")
        if not any(n.ask is Asked.IDENTITY for n in self.script.nodes.values()):
            self.builder.problem(
                None, "nodes", "сценарий не спрашивает, с кем говорит (ask: identity)"
            )
        for name in sorted(pre_identity):
            self.no_disclosure(self.script.nodes[name])

    def every_tag_has_a_branch(self) -> None:
        for node in self.script.nodes.values():
            if node.ask is None or node.otherwise is not None:
                continue
            for tag in Tag:
                if tag not in (node.on or {}) and tag not in self.script.on:
                    self.builder.problem(
                        node.name,
                        "on",
                        f"нет ветки для тега {tag.value} (ни в узле, ни в on сценария)",
                    )
            if self.script.otherwise is None:
                self.builder.problem(node.name, "otherwise", "нет ветки для непонятого ответа")

    def give_up_ends(self) -> None:
        node = self.script.nodes.get(self.script.give_up)
        if node is not None and node.end is None:
            self.builder.problem(node.name, "end", "узел give_up должен завершать звонок")

    def no_silent_loops(self) -> None:
        for start in self.script.nodes.values():
            seen = {start.name}
            node = start
            while node.next is not None:
                targets = [c.go for c in node.next.choices]
                if any(t in seen for t in targets):
                    self.builder.problem(
                        start.name, "next", "цикл без вопроса: робот говорил бы вечно"
                    )
                    break
                seen.update(targets)
                node = self.script.nodes[targets[0]]

    def edges(self, node: Node, *, stop_at_identity: bool) -> Iterable[str]:
        branches: list[Branch | None] = [node.next]
        if node.ask is not None:
            own = node.on or {}
            for tag, branch in own.items():
                confirming = node.ask is Asked.IDENTITY and tag is Tag.CONFIRM
                if not (confirming and stop_at_identity):
                    branches.append(branch)
            if node.otherwise is not None:
                branches.append(node.otherwise)
            else:
                branches.extend(b for t, b in self.script.on.items() if t not in own)
                branches.append(self.script.otherwise)
            branches.extend([node.silence or self.script.silence])
            branches.extend((node.dtmf or {}).values())
            branches.extend(self.script.dtmf.values())
            yield self.script.give_up
        for maybe in branches:
            if maybe is not None:
                yield from (c.go for c in maybe.choices if c.go != REPEAT)

    def reachable(self, *, stop_at_identity: bool) -> set[str]:
        seen = {self.script.start}
        queue = deque([self.script.start])
        while queue:
            for target in self.edges(
                self.script.nodes[queue.popleft()], stop_at_identity=stop_at_identity
            ):
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
        return seen

    def no_disclosure(self, node: Node) -> None:
        for field, lines in (("say", node.say), ("reprompt", node.reprompt)):
            for i, line in enumerate(lines):
                for part in line.template:
                    if isinstance(part, VarRef) and VARIABLES[part.name].private:
                        self.builder.problem(
                            node.name,
                            f"{field}[{i}]",
                            f"{{{part.name}}} — подробность долга, а узел достижим до того, как "
                            "должник подтвердил, что это он",
                        )
        if node.send is not None:
            self.builder.problem(
                node.name, "send", "реквизиты отправляются только после подтверждения личности"
            )
