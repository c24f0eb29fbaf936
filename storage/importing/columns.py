"""Which column of an export holds which field: Russian headers, synonyms, a mapping file.

Headers are matched case-, ``ё``- and spacing-insensitively, ignoring a trailing
``(руб.)`` or ``на 01.11.2026``. A mapping file (TOML) overrides the synonyms and may give
constants for fields the file lacks::

    [columns]                 # field = "header as in the file"
    account = "Код плательщика"
    debt = "Итого к оплате"

    [constants]               # field = value, for every row
    period = "ноябрь 2026"
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from storage.importing.errors import BadSource
from storage.importing.values import Cell, parse_text

__all__ = [
    "DEBT_FIELDS",
    "PAYMENT_FIELDS",
    "ColumnMapping",
    "FieldSpec",
    "HeaderLayout",
    "load_mapping",
    "normalise_header",
    "resolve_header",
]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A field of an import: its key, its name for messages, and the headers that mean it."""

    key: str
    title: str
    synonyms: tuple[str, ...]


def _spec(key: str, title: str, *synonyms: str) -> FieldSpec:
    return FieldSpec(key, title, tuple(normalise_header(s) for s in (title, *synonyms)))


_NOISE = re.compile(r"\(.*?\)|\bна\s+\d{1,2}\.\d{1,2}\.\d{2,4}\b|\bруб\b\.?|[₽]")
_NON_WORD = re.compile(r"[^0-9a-zа-я]+")


def normalise_header(header: str) -> str:
    """``" Лицевой  счёт (№) "`` → ``"лицевой счет"``."""
    text = header.lower().replace("ё", "е")
    text = _NOISE.sub(" ", text)
    return " ".join(_NON_WORD.sub(" ", text).split())


_ACCOUNT = _spec(
    "account", "Лицевой счёт", "ЛС", "Л/С", "Номер ЛС", "№ ЛС", "Номер лицевого счёта", "Лицевой"
)
DEBT_FIELDS: tuple[FieldSpec, ...] = (
    _ACCOUNT,
    _spec("service", "Услуга", "Вид услуги", "Наименование услуги"),
    _spec("period", "Период", "Месяц", "Расчётный период", "Период начисления"),
    _spec(
        "debt",
        "Задолженность",
        "Долг",
        "Сальдо конечное",
        "Конечное сальдо",
        "Сальдо на конец",
        "Сумма долга",
        "Итого задолженность",
    ),  # fmt: skip
    _spec("charged", "Начислено", "Начисление", "Начислено за период"),
    _spec("paid", "Оплачено", "Оплата", "Поступило", "Поступление оплат"),
    _spec("peni", "Пени", "Пеня", "Сумма пени", "Начислено пени"),
    _spec(
        "full_name", "ФИО", "Собственник", "Владелец", "Плательщик", "Абонент", "ФИО собственника"
    ),
    _spec("role", "Статус", "Вид права", "Основание"),
    _spec("share", "Доля", "Доля в праве", "Доля собственности"),
    _spec("birth_date", "Дата рождения"),
    _spec("passport", "Паспорт", "Паспортные данные"),
    _spec("snils", "СНИЛС"),
    _spec("inn", "ИНН"),
    _spec("phone", "Телефон", "Тел", "Тел.", "Телефоны", "Контактный телефон", "Мобильный телефон"),
    _spec("address", "Адрес", "Адрес помещения", "Адрес объекта"),
    _spec("building", "Дом", "Адрес дома", "Здание"),
    _spec("flat", "Квартира", "Кв", "Номер квартиры", "Помещение"),
    _spec("area", "Площадь", "Общая площадь", "Площадь м2", "Площадь кв м"),
    _spec("time_zone", "Часовой пояс", "Часовая зона"),
)
PAYMENT_FIELDS: tuple[FieldSpec, ...] = (
    _ACCOUNT,
    _spec("paid_on", "Дата оплаты", "Дата", "Дата платежа", "Дата поступления"),
    _spec("amount", "Сумма", "Сумма оплаты", "Сумма платежа", "Оплачено"),
    _spec("document", "Номер документа", "Номер платежа", "Документ", "Номер платёжного документа"),
    _spec("channel", "Способ оплаты", "Источник", "Канал", "Платёжный агент"),
    _spec("period", "Период", "За период", "Месяц оплаты"),
    _spec("service", "Услуга"),
)


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """A mapping file: header overrides per field and constants per field."""

    columns: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    source: str = ""


def load_mapping(path: Path, fields: Sequence[FieldSpec]) -> ColumnMapping:
    """Read a TOML mapping file; unknown fields and bad types fail naming the file and key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise BadSource(f"{path.name}: файл соответствий не прочитан: {err}") from err
    known = {spec.key for spec in fields}
    unknown_sections = set(data) - {"columns", "constants"}
    if unknown_sections:
        raise BadSource(
            f"{path.name}: неизвестные разделы {', '.join(sorted(unknown_sections))}; "
            "допустимы [columns] и [constants]"
        )
    sections: dict[str, dict[str, str]] = {}
    for section in ("columns", "constants"):
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise BadSource(f"{path.name}: [{section}] должен быть таблицей")
        for key, value in table.items():
            if key not in known:
                raise BadSource(
                    f"{path.name}: [{section}] {key}: неизвестное поле; "
                    f"известны {', '.join(sorted(known))}"
                )
            if not isinstance(value, str):
                raise BadSource(f"{path.name}: [{section}] {key}: ожидается строка в кавычках")
        sections[section] = dict(table)
    return ColumnMapping(sections["columns"], sections["constants"], path.name)


@dataclass(frozen=True, slots=True)
class HeaderLayout:
    """Where each field is: column index and the header text as written in the file."""

    row: int
    positions: Mapping[str, int]
    headers: Mapping[str, str]
    constants: Mapping[str, str]


def resolve_header(
    cells: Sequence[Cell],
    row: int,
    fields: Sequence[FieldSpec],
    mapping: ColumnMapping,
    file: str,
) -> HeaderLayout:
    """Map a header row to fields; two columns claiming one field fail naming both."""
    texts = [parse_text(c) for c in cells]
    normalised = [normalise_header(t) for t in texts]
    positions: dict[str, int] = {}
    for spec in fields:
        if spec.key in mapping.constants:
            continue
        if spec.key in mapping.columns:
            wanted = normalise_header(mapping.columns[spec.key])
            if wanted not in normalised:
                raise BadSource(
                    f"{file}: нет столбца «{mapping.columns[spec.key]}» "
                    f"(поле {spec.key} из {mapping.source})"
                )
            positions[spec.key] = normalised.index(wanted)
            continue
        found = [i for i, name in enumerate(normalised) if name and name in spec.synonyms]
        if len(found) > 1:
            both = " и ".join(f"«{texts[i]}»" for i in found)
            raise BadSource(
                f"{file}, строка {row}: столбцы {both} оба означают «{spec.title}»; "
                "укажите нужный в файле соответствий (--mapping)"
            )
        if found and found[0] not in positions.values():
            positions[spec.key] = found[0]
    return HeaderLayout(
        row=row,
        positions=positions,
        headers={key: texts[index] for key, index in positions.items()},
        constants=dict(mapping.constants),
    )
