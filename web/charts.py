"""Report charts drawn on the server as SVG by matplotlib, for pages and print.

Why matplotlib: a well-kept library whose SVG backend needs no browser JavaScript (the
pages keep their strict CSP), draws Cyrillic with its bundled DejaVu fonts and offers
hatches and markers, so the series stay apart on a black-and-white printout. Text stays
text (``svg.fonttype = none``): labels are searchable, and the tests read them.

Only the object API is used (``Figure``, no ``pyplot``): no global figure state, so charts
are drawn on the service's threads at once. Every SVG is checked before it leaves here:
no scripts, no foreign objects, no event attributes; the pages embed it as an ``<img>``
(a ``data:`` URI), where a browser runs no script in any case.
"""

from __future__ import annotations

import base64
import io
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from web.report_weeks import WeekMoney, WeekPromises, WeekReasons
from web.reports import REASON_TITLES
from web.robot_vs_human import SideRow

__all__ = [
    "NO_DATA",
    "Chart",
    "ChartError",
    "check_svg",
    "money_after_contact_chart",
    "promises_chart",
    "reasons_chart",
    "robot_vs_human_chart",
]

NO_DATA = "нет данных"
SVG_NS = "{http://www.w3.org/2000/svg}"
# Set once for the process: text as <text>, stable ids (the same data gives the same SVG).
matplotlib.rcParams.update(
    {"svg.fonttype": "none", "svg.hashsalt": "napomni", "font.family": "DejaVu Sans",
     "font.size": 10, "axes.spines.top": False, "axes.spines.right": False,
     "hatch.linewidth": 0.6}
)  # fmt: skip
# Grey shades a printer keeps apart, each with a hatch or a marker as well.
SHADES = ("#1f3b57", "#6f8fad", "#c4d3e0", "#8a8a8a", "#444444", "#b0b0b0", "#2f6f4f", "#d0a040")
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "--", "oo")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":", "-", "--", "-.", ":")
_FORBIDDEN = {"script", "foreignObject", "iframe", "embed", "object"}


class ChartError(Exception):
    """A drawn SVG did not pass the safety check (a bug here, never the data's fault)."""


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart: its SVG text, and a sentence for those who cannot see it."""

    title: str
    svg: str
    alt: str
    empty: bool

    @property
    def data_uri(self) -> str:
        """The SVG as a ``data:`` URI for ``<img src>`` (allowed by the pages' CSP)."""
        encoded = base64.b64encode(self.svg.encode("utf-8")).decode("ascii")
        return f"data:image/svg+xml;base64,{encoded}"


def check_svg(svg: str) -> str:
    """``svg`` unchanged if it holds no script, foreign object, event attribute or
    ``javascript:`` link; :class:`ChartError` otherwise."""
    root = ET.fromstring(svg)
    for node in root.iter():
        tag = node.tag.removeprefix(SVG_NS) if isinstance(node.tag, str) else ""
        if tag in _FORBIDDEN:
            raise ChartError(f"в SVG недопустимый элемент {tag}")
        for name, value in node.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on") or value.strip().lower().startswith("javascript:"):
                raise ChartError(f"в SVG недопустимый атрибут {local}")
    return svg


def _figure(height_in: float = 3.4) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(9.0, height_in), dpi=100)
    # Fixed margins, not a layout engine: "constrained" doubled the drawing time; these fit
    # rotated week labels below, roubles on the left and the legend on the right.
    figure.subplots_adjust(left=0.1, right=0.78, top=0.9, bottom=0.24)
    return figure, figure.add_subplot()


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return check_svg(buffer.getvalue())


def _empty(title: str) -> Chart:
    figure, axes = _figure(2.0)
    axes.set_title(title, loc="left", fontweight="bold")
    axes.text(0.5, 0.5, NO_DATA, ha="center", va="center", fontsize=14, color="#555555",
              transform=axes.transAxes)  # fmt: skip
    axes.set_axis_off()
    return Chart(title, _svg(figure), f"{title}: {NO_DATA} за выбранный период", empty=True)


def _week_labels(weeks: Sequence[WeekMoney | WeekPromises | WeekReasons]) -> list[str]:
    return [w.week.strftime("%d.%m") for w in weeks]


def _rotate_if_crowded(axes: Axes, count: int) -> None:
    if count > 8:
        axes.tick_params(axis="x", labelrotation=60)


def _grouped_bars(
    axes: Axes, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]
) -> None:
    width = 0.8 / max(1, len(series))
    for index, (name, values) in enumerate(series):
        offsets = [x - 0.4 + width * (index + 0.5) for x in range(len(labels))]
        axes.bar(offsets, values, width, label=name, color=SHADES[index % len(SHADES)],
                 hatch=HATCHES[index % len(HATCHES)], edgecolor="black", linewidth=0.5)  # fmt: skip
    axes.set_xticks(range(len(labels)), labels)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    # Beside the plot, never over a bar.
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)


def _roubles(value: float, _position: object) -> str:
    return f"{value:,.0f}".replace(",", "\u00a0") + "\u00a0₽"


def promises_chart(weeks: Sequence[WeekPromises]) -> Chart:
    """Promises made, kept and broken, by the week made."""
    title = "Обещания оплатить по неделям"
    if not any(w.made or w.kept or w.broken for w in weeks):
        return _empty(title)
    figure, axes = _figure()
    labels = _week_labels(weeks)
    _grouped_bars(axes, labels, [
        ("Дано", [w.made for w in weeks]),
        ("Выполнено", [w.kept for w in weeks]),
        ("Нарушено", [w.broken for w in weeks]),
    ])  # fmt: skip
    axes.set_title(title, loc="left", fontweight="bold")
    axes.set_xlabel("Неделя (с понедельника)")
    axes.set_ylabel("Обещаний")
    _rotate_if_crowded(axes, len(labels))
    made, kept = sum(w.made for w in weeks), sum(w.kept for w in weeks)
    alt = f"{title}: дано {made}, выполнено {kept}, нарушено {sum(w.broken for w in weeks)}"
    return Chart(title, _svg(figure), alt, empty=False)


def money_after_contact_chart(weeks: Sequence[WeekMoney]) -> Chart:
    """Money paid after a conversation with the robot, by the week paid."""
    title = "Оплачено после разговора с роботом, по неделям"
    if not any(w.collected for w in weeks):
        return _empty(title)
    figure, axes = _figure()
    labels = _week_labels(weeks)
    axes.bar(range(len(labels)), [float(w.collected) for w in weeks], 0.6, label="Оплачено, ₽",
             color=SHADES[1], hatch=HATCHES[1], edgecolor="black", linewidth=0.5)  # fmt: skip
    axes.set_xticks(range(len(labels)), labels)
    axes.yaxis.set_major_formatter(FuncFormatter(_roubles))
    axes.set_title(title, loc="left", fontweight="bold")
    axes.set_xlabel("Неделя оплаты (с понедельника)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    _rotate_if_crowded(axes, len(labels))
    total = sum((w.collected for w in weeks), Decimal("0"))
    alt = f"{title}: всего {_roubles(float(total), None)}"
    return Chart(title, _svg(figure), alt, empty=False)


def reasons_chart(weeks: Sequence[WeekReasons], tags: Sequence[str]) -> Chart:
    """Each reason's share of the week's answered calls, as lines over the weeks."""
    title = "Причины неоплаты: доля ответивших звонков по неделям"
    heard = [tag for tag in tags if any(w.counts.get(tag) for w in weeks)]
    if not heard:
        return _empty(title)
    figure, axes = _figure(3.8)
    labels = _week_labels(weeks)
    for index, tag in enumerate(heard):
        shares = [w.share(tag) for w in weeks]
        axes.plot(range(len(labels)), [float("nan") if s is None else s * 100 for s in shares],
                  label=REASON_TITLES.get(tag, tag), color=SHADES[index % len(SHADES)],
                  marker=MARKERS[index % len(MARKERS)],
                  linestyle=LINESTYLES[index % len(LINESTYLES)], linewidth=1.4)  # fmt: skip
    axes.set_xticks(range(len(labels)), labels)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0f}\u00a0%"))
    axes.set_ylim(bottom=0)
    axes.set_title(title, loc="left", fontweight="bold")
    axes.set_xlabel("Неделя звонка (с понедельника)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    _rotate_if_crowded(axes, len(labels))
    names = ", ".join(REASON_TITLES.get(tag, tag) for tag in heard)
    return Chart(title, _svg(figure), f"{title}: {names}", empty=False)


def robot_vs_human_chart(rows: Sequence[SideRow]) -> Chart:
    """The robot and the collector side by side: contacts, with the debtor, promises."""
    title = "Робот и взыскатель"
    if not any(r.contacts or r.promises for r in rows):
        return _empty(title)
    figure, axes = _figure()
    measures = ("Контактов", "С должником", "Обещаний", "Выполнено", "Нарушено")
    values = {r.side: [r.contacts, r.with_debtor, r.promises, r.kept, r.broken] for r in rows}
    _grouped_bars(axes, measures, [(side, [float(v) for v in vs]) for side, vs in values.items()])
    axes.set_title(title, loc="left", fontweight="bold")
    alt = "; ".join(f"{side}: контактов {vs[0]}, обещаний {vs[2]}" for side, vs in values.items())
    return Chart(title, _svg(figure), f"{title}. {alt}", empty=False)
