"""Generates the labelled turns from the phrase files, deterministically.

Each split has its own phrase file and its own pools of verbs, fillers and date phrasings,
so the held-out figure measures phrasings the model never saw. Gold dates are computed
here by plain calendar arithmetic, independently of :mod:`classifier.promises`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
import re
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Literal

from num2words import num2words

from classifier.contract import Asked, Tag, TurnContext
from classifier.corpus import LabelledTurn
from classifier.language import morph
from classifier.numbers import cardinal_value, is_multiplier

__all__ = ["Split", "generate"]

Split = Literal["train", "heldout"]

_WEEKDAY_NOM = ["понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"]
_MONTH_NOM = [
    "январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь",
    "октябрь", "ноябрь", "декабрь",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Pools:
    pay: tuple[str, ...]
    debt: tuple[str, ...]
    rel: tuple[str, ...]
    past: tuple[str, ...]
    prefix: tuple[str, ...]
    suffix: tuple[str, ...]
    ramble: tuple[str, ...]
    joiners: tuple[str, ...]


_POOLS: dict[Split, _Pools] = {
    "train": _Pools(
        pay=(
            "заплачу",
            "оплачу",
            "погашу",
            "внесу",
            "переведу",
            "закрою",
            "оплатим",
            "заплатим",
            "отдам",
            "верну",
            "перечислю",
            "закину",
            "погасим",
            "внесу деньги",
            "оплачу счет",
            "рассчитаюсь",
            "занесу",
            "скину",
            "положу на счет",
            "оплачу квитанцию",
            "внесу оплату",
            "погашу долг",
            "кину на карту",
            "расплачусь",
            "переведу деньги",
            "буду платить",
            "выплачу",
        ),
        debt=("долг", "задолженность", "коммуналку", "квартплату", "счет"),
        rel=(
            "жена его",
            "его мать",
            "сын",
            "дочка",
            "соседка",
            "муж ее",
            "его дочь",
            "отец",
            "сестра его",
            "бабушка его",
            "племянник",
            "теща",
        ),
        past=(
            "вчера",
            "на прошлой неделе",
            "в понедельник",
            "позавчера",
            "еще в том месяце",
            "18.11",
            "в субботу",
            "третьего числа",
            "на той неделе",
            "еще летом",
        ),
        prefix=(
            "ну",
            "слушайте",
            "девушка",
            "э",
            "алло",
            "значит так",
            "милая",
            "вот",
            "короче",
            "ой",
            "понимаете",
            "так",
            "женщина",
            "ну смотрите",
            "девушка милая",
            "я вам так скажу",
            "это самое",
            "ну короче",
            "извините пожалуйста",
            "будьте добры",
            "здрасьте",
            "ну как бы",
            "дорогая моя",
            "мужчина",
            "ну что я могу сказать",
            "я вот что хочу сказать",
            "ой господи",
            "в общем",
        ),
        suffix=(
            "вот",
            "понимаете",
            "и все",
            "до свидания",
            "вот так вот",
            "ясно вам",
            "спасибо",
            "извините",
            "хорошо",
            "договорились",
            "всего хорошего",
            "вот такие дела",
            "как то так",
            "ну вы поняли",
        ),
        ramble=(
            "я всю жизнь тут живу",
            "времена сейчас такие",
            "у меня внуки маленькие",
            "вы же знаете какая жизнь",
            "я старый человек",
            "давление у меня",
            "я вот только с работы зашла",
            "дом у нас старый пятиэтажка",
            "мы тут с девяностого года живем",
            "у меня тут ребенок кричит",
            "я на кухне стою готовлю",
            "вы уже не первый раз звоните",
            "мне соседка говорила что вы звоните",
            "я человек честный",
            "ну вы сами понимаете",
            "я вам сейчас все объясню",
            "ну тут такое дело",
            "я не помню точно",
        ),
        joiners=(
            " ",
            " а ",
            " но ",
            " и ",
            " ну ",
            " так что ",
            " вообще ",
            " вот ",
            " и еще ",
            " потом ",
            " а так ",
            " ну и вот ",
            " короче ",
            " значит ",
        ),
    ),
    "heldout": _Pools(
        pay=("оплачу", "заплачу", "рассчитаюсь", "верну", "гашу", "перечислю", "отдам"),
        debt=("долг", "задолженность", "за квартиру", "что должна"),
        rel=("дочь его", "свекровь", "внук", "брат"),
        past=("в пятницу", "третьего дня", "неделю назад", "в начале месяца"),
        prefix=(
            "слушай",
            "ну ладно",
            "сынок",
            "девочка",
            "ну вот",
            "эм",
            "послушайте",
            "вы знаете",
            "доченька",
            "простите",
            "ну это",
        ),
        suffix=("так то", "ладно", "всего доброго", "вот и все", "благодарю", "ну как-то так"),
        ramble=(
            "я одна живу",
            "ноги болят ходить трудно",
            "у нас тут дождь",
            "я вам честно скажу",
            "я с внуком сижу",
            "мы тут давно живем",
        ),
        joiners=(" ", " а ", " но ", " хотя ", " ну и ", " ну вот ", " и потом "),
    ),
}

_NOISE: dict[str, tuple[str, ...]] = {
    "сейчас": ("щас", "ща"),
    "что": ("чо", "што", "че"),
    "пятницу": ("пятница",),
    "тысяч": ("тыщ",),
    "тысячи": ("тыщи",),
    "заплачу": ("заплочу",),
    "квитанцию": ("квитанция",),
    "перезвоните": ("перезвоните-ка",),
    "сегодня": ("седня",),
    "конечно": ("конешно",),
    "пожалуйста": ("пожалста", "пжлст"),
    "вообще": ("ваще",),
    "только": ("тока",),
    "может": ("мож",),
    "здравствуйте": ("здрасьте",),
    "денег": ("деньжат",),
    "нет": ("нету",),
    "зарплаты": ("получки",),
    "зарплату": ("получку",),
    "тысячу": ("тыщу",),
    "говорю": ("грю",),
    "что-нибудь": ("чонить",),
}
# "нет" → "нету" only where it means "there is none" ("денег нет"), never as the answer "нет".
_NOISE_ONLY_AFTER = {
    "нет": {
        "денег", "работы", "воды", "средств", "его", "ее", "никого", "ничего", "отопления",
        "меня", "нас", "сейчас", "вообще", "совсем", "уже", "дома", "возможности",
    },
}  # fmt: skip
# When a story happened ("в ноябре был в командировке"): dates the promise must not take.
_STORY_WHEN = (
    "в ноябре", "в октябре", "летом", "весной", "в прошлом месяце", "в сентябре", "зимой",
    "в прошлом году", "в январе", "в марте", "прошлой осенью", "на той неделе",
    "пятнадцатого октября", "с десятого по двадцатое", "в августе", "под новый год",
)  # fmt: skip
_KEEP = {
    "не", "ни", "нет", "да", "до", "к", "по", "через", "на", "в", "пока", "если", "а", "щас",
    "ща", "мае", "май", "мая",
}  # fmt: skip


def _last(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _next_month(day: dt.date) -> tuple[int, int]:
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)


def _inflect(word: str, case: str) -> str:
    parse = morph().parse(word)[0]
    form = parse.inflect({case})
    return form.word if form is not None else word


def _ordinal(n: int, case: str) -> str:
    words = num2words(n, lang="ru", to="ordinal").split()
    words[-1] = _inflect(words[-1], case)
    return " ".join(words)


def _cardinal(n: int) -> str:
    text: str = num2words(n, lang="ru")
    return text.replace("одна тысяча", "тысячу").replace("один тысяча", "тысячу")


def _date_phrase(
    rng: random.Random, today: dt.date, split: Split, typed: bool
) -> tuple[str, dt.date | None]:
    """A date phrase and the date the spec gives it."""
    kind = rng.choice(
        ["rel", "rel", "through", "weekday", "weekday", "week", "dom", "dom", "named",
         "month_end", "next_month", "month", "none", "none"]
    )  # fmt: skip
    if kind == "rel":
        k, words = rng.choice(
            [(0, "сегодня"), (1, "завтра"), (2, "послезавтра"), (0, "прямо сейчас"), (0, "сейчас"),
             (1, "завтра же"), (0, "сегодня вечером")]
        )  # fmt: skip
        return words, today + dt.timedelta(days=k)
    if kind == "through":
        n = rng.choice([2, 3, 4, 5, 7, 10])
        if rng.random() < 0.3:
            weeks = rng.choice([1, 2])
            return ("через неделю" if weeks == 1 else "через две недели"), today + dt.timedelta(
                7 * weeks
            )
        unit = "дня" if n in (2, 3, 4) else "дней"
        count = str(n) if typed else _cardinal(n)
        return f"через {count} {unit}", today + dt.timedelta(days=n)
    if kind == "weekday":
        wd = rng.randrange(7)
        nom = _WEEKDAY_NOM[wd]
        forms = (
            [f"в {_inflect(nom, 'accs')}", f"до {_inflect(nom, 'gent')}", nom]
            if split == "train"
            else [
                f"к {_inflect(nom, 'datv')}",
                f"в {_inflect(nom, 'accs')}",
                f"в эту {_inflect(nom, 'accs')}",
            ]
        )
        phrase = rng.choice(forms).replace("в вторник", "во вторник")
        return phrase, today + dt.timedelta(days=(wd - today.weekday()) % 7 or 7)
    if kind == "week":
        sunday = today + dt.timedelta(days=6 - today.weekday())
        if rng.random() < 0.5:
            return rng.choice(["на этой неделе", "до конца недели"]), sunday
        return "на следующей неделе", sunday + dt.timedelta(days=7)
    if kind == "dom":
        n = rng.randint(1, 28)
        phrase = rng.choice(
            [_ordinal(n, "gent"), f"{_ordinal(n, 'gent')} числа", f"до {_ordinal(n, 'gent')}"]
            if split == "train"
            else [
                f"к {_ordinal(n, 'datv')}",
                f"{n}-го",
                f"до {n} числа",
                f"на {_ordinal(n, 'accs').replace('ый', 'ое')}",
            ]
        )
        if typed and split == "train":
            phrase = rng.choice(
                [f"{n}-го", f"до {n} числа", f"к {n}-му", f"{n} числа", f"к {n} числу", phrase]
            )
        if n > today.day:
            return phrase, today.replace(day=n)
        year, month = _next_month(today)
        return phrase, dt.date(year, month, n)
    if kind == "named":
        n, m = rng.randint(1, 28), rng.randint(1, 12)
        gen = _inflect(_MONTH_NOM[m - 1], "gent")
        phrase = rng.choice([f"{_ordinal(n, 'gent')} {gen}", f"{n} {gen}", f"до {n:02d}.{m:02d}"])
        day = dt.date(today.year, m, n)
        return phrase, day if day >= today else dt.date(today.year + 1, m, n)
    if kind == "month_end":
        return rng.choice(["до конца месяца", "в конце месяца"]), _last(today.year, today.month)
    if kind == "next_month":
        year, month = _next_month(today)
        if rng.random() < 0.5:
            return "в начале следующего месяца", dt.date(year, month, 10)
        return "в следующем месяце", _last(year, month)
    if kind == "month":
        m = rng.randint(1, 12)
        start = rng.random() < 0.3
        year = today.year if m >= today.month else today.year + 1
        if start:
            day = dt.date(year, m, 10)
            if day < today:
                day = dt.date(year + 1, m, 10)
            return f"в начале {_inflect(_MONTH_NOM[m - 1], 'gent')}", day
        return f"в {_inflect(_MONTH_NOM[m - 1], 'loct')}", _last(year, m)
    phrase = rng.choice(
        [
            "с зарплаты",
            "с пенсии",
            "на днях",
            "после праздников",
            "когда будут деньги",
            "как смогу",
            "с получки",
            "с аванса",
            "как зарплату дадут",
            "",
        ]
        if split == "train"
        else ["с получки", "на днях", "после праздников", "как деньги появятся", ""]
    )
    return phrase, None


def _amount_phrase(
    rng: random.Random, debt: Decimal, typed: bool, bare: bool
) -> tuple[str, Decimal | None]:
    kind = rng.choice(["num", "num", "whole", "half", "none"]) if not bare else "num"
    if kind == "num":
        n = rng.choice(
            [500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 7000, 10000, 12000, 3500, 4200]
        )
        if typed or rng.random() < 0.25:
            text = rng.choice(
                [
                    f"{n}",
                    f"{n:,}".replace(",", " "),
                    f"{n // 1000} тысяч" if n % 1000 == 0 else f"{n}",
                    f"{n / 1000:g}".replace(".", ",") + " тыс." if n >= 1000 else f"{n}",
                    f"{n // 1000}к" if n % 1000 == 0 else f"{n}р",
                ]
            )
            unit = "" if bare else rng.choice([" рублей", " руб", " р", ""])
            if unit == "" and n < 1000 and not bare:
                unit = " рублей"
        else:
            text = _cardinal(n)
            unit = "" if bare else (" рублей" if rng.random() < 0.6 else "")
            if n < 1000:
                unit = "" if bare else " рублей"
        return text + unit, Decimal(n)
    if kind == "whole":
        return rng.choice(["всю сумму", "весь долг", "полностью", "все"]), debt
    if kind == "half":
        return "половину", debt / 2
    return "", None


def _today(rng: random.Random) -> dt.date:
    base = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(730))
    roll = rng.random()
    if roll < 0.15:  # month ends
        return _last(base.year, base.month) - dt.timedelta(days=rng.randrange(3))
    if roll < 0.25:  # the year's end
        return dt.date(base.year, 12, rng.randint(24, 31))
    if roll < 0.35:  # Sundays
        return base + dt.timedelta(days=6 - base.weekday())
    return base


def _phrases(split: Split) -> list[tuple[frozenset[Tag], str]]:
    name = "train_phrases.txt" if split == "train" else "heldout_phrases.txt"
    text = resources.files("classifier.data").joinpath(name).read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        tags_raw, phrase = (part.strip() for part in line.split("|", 1))
        tags = frozenset() if tags_raw == "-" else frozenset(Tag(t) for t in tags_raw.split("+"))
        out.append((tags, phrase))
    return out


def _asked(rng: random.Random, tags: frozenset[Tag]) -> Asked:
    if tags & {Tag.CONFIRM, Tag.DENY}:
        return rng.choices([Asked.IDENTITY, Asked.OPEN, Asked.PROMISE_DATE], [7, 2, 1])[0]
    if Tag.PROMISE_TO_PAY in tags:
        return rng.choices(
            [Asked.PROMISE_DATE, Asked.REASON, Asked.OPEN, Asked.IDENTITY], [6, 2, 1, 1]
        )[0]
    if tags & {Tag.WRONG_PERSON, Tag.CALLBACK_LATER}:
        return rng.choices(
            [Asked.IDENTITY, Asked.REASON, Asked.PROMISE_DATE, Asked.OPEN], [5, 1, 1, 1]
        )[0]
    return rng.choices(
        [Asked.REASON, Asked.PROMISE_DATE, Asked.OPEN, Asked.IDENTITY], [5, 3, 1, 1]
    )[0]


def _noisy(rng: random.Random, text: str) -> str:
    words = text.split()
    out = []
    for position, word in enumerate(words):
        if word in _NOISE_ONLY_AFTER and (
            position == 0 or words[position - 1] not in _NOISE_ONLY_AFTER[word]
        ):
            pass
        elif word in _NOISE and rng.random() < 0.35:
            word = rng.choice(_NOISE[word])
        if (
            len(word) <= 3
            and word not in _KEEP
            and not word[0].isdigit()
            and cardinal_value(word) is None
            and is_multiplier(word) is None
            and rng.random() < 0.08
        ):
            continue  # a short word the recogniser dropped
        out.append(word)
    return " ".join(out)


_QUESTION = re.compile(r"\b(как|где|куда|можно|какой|какие|почему|откуда|зачем|когда)\b")


def _typed(rng: random.Random, text: str) -> str:
    """Typed or Whisper-style text: commas between clauses, capitals, "всё", end marks."""
    text = re.sub(r" (а|но|хотя|так что|потому что|и вот|короче|только) ", r", \1 ", text)
    if rng.random() < 0.5:
        text = re.sub(
            r"^(ну|слушайте|девушка|короче|значит так|вот|ой|алло|в общем|извините|мужчина) ",
            r"\1, ",
            text,
        )
    if rng.random() < 0.4:
        text = re.sub(r"\bвсе\b", "всё", text)
    if rng.random() < 0.2:
        text = re.sub(r" (я|мы|деньги|денег) ", r". \1 ", text, count=1)
    text = text[:1].upper() + text[1:]
    if _QUESTION.search(text) and rng.random() < 0.7:
        return text + "?"
    return text + rng.choice([".", "!", "", "...", "."])


def _fill(
    rng: random.Random, phrase: str, pools: _Pools, split: Split, context: TurnContext, typed: bool
) -> tuple[str, dt.date | None, Decimal | None]:
    gold_date: dt.date | None = None
    gold_amount: Decimal | None = None
    debt = context.debt or Decimal(10000)
    if "{date}" in phrase:
        words, gold_date = _date_phrase(rng, context.today, split, typed)
        phrase = phrase.replace("{date}", words)
    if "{amount_num}" in phrase:
        words, gold_amount = _amount_phrase(rng, debt, typed, bare=True)
        phrase = phrase.replace("{amount_num}", words)
    if "{amount}" in phrase:
        words, gold_amount = _amount_phrase(rng, debt, typed, bare=False)
        phrase = phrase.replace("{amount}", words)
    while "{sum}" in phrase:  # a sum told in the story: no promised amount
        words, _ = _amount_phrase(rng, debt, typed, bare=True)
        unit = rng.choice(["", "", " рублей", " тысяч"]) if len(words) <= 2 else ""
        phrase = phrase.replace("{sum}", words + unit, 1)
    while "{story_when}" in phrase:  # a time of the story: never the promised date
        phrase = phrase.replace("{story_when}", rng.choice(_STORY_WHEN), 1)
    for slot, pool in (
        ("{pay}", pools.pay),
        ("{debt}", pools.debt),
        ("{rel}", pools.rel),
        ("{past}", pools.past),
    ):
        while slot in phrase:
            phrase = phrase.replace(slot, rng.choice(pool), 1)
    return " ".join(phrase.split()), gold_date, gold_amount


def generate(split: Split, count: int, seed: int) -> list[LabelledTurn]:
    """``count`` labelled turns of ``split``, the same for the same seed."""
    rng = random.Random(f"{split}:{seed}")
    pools = _POOLS[split]
    phrases = _phrases(split)
    by_tag: dict[Tag | None, list[tuple[frozenset[Tag], str]]] = {}
    for tags, phrase in phrases:
        key = min(tags, key=lambda t: list(Tag).index(t)) if tags else None
        by_tag.setdefault(key, []).append((tags, phrase))
    keys = list(by_tag)
    turns = []
    for _ in range(count):
        tags, phrase = rng.choice(by_tag[rng.choice(keys)])
        parts = [(tags, phrase)]
        if tags and rng.random() < 0.25:
            other_tags, other = rng.choice(phrases)
            clash = (
                not other_tags
                or other_tags & tags
                or (Tag.PROMISE_TO_PAY in tags | other_tags and Tag.REFUSAL in tags | other_tags)
                or ({Tag.CONFIRM, Tag.DENY} & (tags | other_tags))
                or ("{date}" in other and "{date}" in phrase)
                or ("{amount" in other and "{amount" in phrase)
                or (
                    Tag.PROMISE_TO_PAY in tags | other_tags
                    and any(w in f" {phrase} {other} " for w in (" пока ", " если ", " тогда "))
                )
            )
            if not clash:
                parts.append((other_tags, other))
                rng.shuffle(parts)
                if rng.random() < 0.25:
                    third_tags, third = rng.choice(phrases)
                    used = frozenset().union(*(t for t, _ in parts))
                    joined = " ".join(p for _, p in parts)
                    if (
                        third_tags
                        and not third_tags & used
                        and not {Tag.CONFIRM, Tag.DENY, Tag.REFUSAL} & third_tags
                        and not (Tag.REFUSAL in used and Tag.PROMISE_TO_PAY in third_tags)
                        and not ("{date}" in third and "{date}" in joined)
                        and not ("{amount" in third and "{amount" in joined)
                        and not any(w in f" {third} " for w in (" пока ", " если ", " тогда "))
                    ):
                        parts.insert(rng.randrange(len(parts) + 1), (third_tags, third))
        all_tags = frozenset().union(*(t for t, _ in parts))
        lead = ""
        if rng.random() < 0.12 and all_tags and not all_tags & {Tag.CONFIRM, Tag.DENY}:
            lead, extra = rng.choice(
                [("да", Tag.CONFIRM), ("да да", Tag.CONFIRM), ("нет", Tag.DENY)]
            )
            if extra is Tag.DENY and Tag.PROMISE_TO_PAY in all_tags:
                lead, extra = "да", Tag.CONFIRM
            all_tags = all_tags | {extra}
        asked = _asked(rng, all_tags)
        if asked is Asked.REASON:
            all_tags = all_tags - {Tag.CONFIRM, Tag.DENY}
        debt = (
            Decimal(rng.randrange(150000, 6000000)) / 100
            if rng.random() < 0.4
            else Decimal(rng.randrange(1500, 60000))
        )
        context = TurnContext(asked=asked, today=_today(rng), debt=debt)
        typed = rng.random() < 0.15
        texts = []
        gold_date: dt.date | None = None
        gold_amount: Decimal | None = None
        for _tags, raw in parts:
            filled, d, a = _fill(rng, raw, pools, split, context, typed)
            texts.append(filled)
            gold_date = gold_date or d
            gold_amount = gold_amount if gold_amount is not None else a
        text = rng.choice(pools.joiners).join(texts)
        if lead:
            text = f"{lead} {text}"
        if rng.random() < 0.3:
            text = f"{rng.choice(pools.prefix)} {text}"
        if rng.random() < 0.15:
            text = f"{text} {rng.choice(pools.suffix)}"
        if rng.random() < 0.08:
            text = (
                f"{rng.choice(pools.ramble)} {text}"
                if rng.random() < 0.5
                else f"{text} {rng.choice(pools.ramble)}"
            )
        text = _typed(rng, text) if typed else _noisy(rng, text)
        promised = Tag.PROMISE_TO_PAY in all_tags
        turns.append(
            LabelledTurn(
                text=text,
                context=context,
                tags=all_tags,
                promise_date=gold_date if promised else None,
                promise_amount=gold_amount if promised else None,
            )
        )
    return turns
