"""Figures for a labelled set: per-tag precision/recall/F1, micro and macro F1, promise accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from classifier.contract import TAGS, Classification, Tag
from classifier.corpus import LabelledTurn

__all__ = ["TagScore", "Evaluation", "evaluate", "format_evaluation"]


@dataclass(frozen=True, slots=True)
class TagScore:
    """One tag's counts and scores."""

    tag: Tag
    support: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Scores of predictions against a labelled set.

    ``date_accuracy``/``amount_accuracy`` are over the turns labelled ``promise_to_pay``:
    the predicted date (amount) equals the expected one, both None counting as equal.
    """

    turns: int
    per_tag: tuple[TagScore, ...]
    micro_f1: float
    macro_f1: float
    promises: int
    date_accuracy: float
    amount_accuracy: float
    exact_match: float

    def to_json(self) -> dict[str, object]:
        """Plain figures for metadata files and machine-read reports."""
        return {
            "turns": self.turns,
            "micro_f1": round(self.micro_f1, 4),
            "macro_f1": round(self.macro_f1, 4),
            "exact_match": round(self.exact_match, 4),
            "promises": self.promises,
            "promise_date_accuracy": round(self.date_accuracy, 4),
            "promise_amount_accuracy": round(self.amount_accuracy, 4),
            "per_tag": {
                s.tag.value: {
                    "support": s.support,
                    "precision": round(s.precision, 4),
                    "recall": round(s.recall, 4),
                    "f1": round(s.f1, 4),
                }
                for s in self.per_tag
            },
        }


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate(gold: Sequence[LabelledTurn], predicted: Sequence[Classification]) -> Evaluation:
    """Compare ``predicted`` with ``gold`` turn by turn (same order, same length)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} labelled turns but {len(predicted)} predictions")
    per_tag = []
    total_tp = total_fp = total_fn = 0
    for tag in TAGS:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if tag in g.tags and p.has(tag))
        fp = sum(
            1 for g, p in zip(gold, predicted, strict=True) if tag not in g.tags and p.has(tag)
        )
        fn = sum(
            1 for g, p in zip(gold, predicted, strict=True) if tag in g.tags and not p.has(tag)
        )
        total_tp, total_fp, total_fn = total_tp + tp, total_fp + fp, total_fn + fn
        precision, recall, f1 = _f1(tp, fp, fn)
        per_tag.append(TagScore(tag, tp + fn, precision, recall, f1))
    scored = [s for s in per_tag if s.support > 0]
    promised = [
        (g, p) for g, p in zip(gold, predicted, strict=True) if Tag.PROMISE_TO_PAY in g.tags
    ]
    dates = sum(1 for g, p in promised if g.promise_date == p.promise_date)
    amounts = sum(
        1
        for g, p in promised
        if (g.promise_amount is None and p.promise_amount is None)
        or (
            g.promise_amount is not None
            and p.promise_amount is not None
            and abs(g.promise_amount - p.promise_amount) < 0.01
        )
    )
    exact = sum(1 for g, p in zip(gold, predicted, strict=True) if g.tags == frozenset(p.tags))
    return Evaluation(
        turns=len(gold),
        per_tag=tuple(per_tag),
        micro_f1=_f1(total_tp, total_fp, total_fn)[2],
        macro_f1=sum(s.f1 for s in scored) / len(scored) if scored else 0.0,
        promises=len(promised),
        date_accuracy=dates / len(promised) if promised else 1.0,
        amount_accuracy=amounts / len(promised) if promised else 1.0,
        exact_match=exact / len(gold) if gold else 1.0,
    )


def format_evaluation(result: Evaluation) -> str:
    """A table for the terminal."""
    lines = [f"{'метка':<22}{'n':>6}{'точн.':>8}{'полн.':>8}{'F1':>8}"]
    for s in result.per_tag:
        lines.append(
            f"{s.tag.value:<22}{s.support:>6}{s.precision:>8.3f}{s.recall:>8.3f}{s.f1:>8.3f}"
        )
    lines += [
        f"реплик: {result.turns}; точное совпадение меток: {result.exact_match:.3f}",
        f"micro-F1: {result.micro_f1:.3f}; macro-F1: {result.macro_f1:.3f}",
        f"обещаний: {result.promises}; дата верна: {result.date_accuracy:.3f}; "
        f"сумма верна: {result.amount_accuracy:.3f}",
    ]
    return "\n".join(lines)
