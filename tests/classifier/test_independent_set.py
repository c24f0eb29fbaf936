"""The independently written evaluation set: kept apart from training, and the issue's bar.

The set was written from descriptions of debtor situations by a writer who never saw the
phrase files, the generator or the model (``classifier.data.independent_set``). These tests
keep it out of training and hold the figures the outside evaluation asks for; they are a
floor for regressions, not a target to tune to (the outside set is another one).
"""

from __future__ import annotations

from collections import Counter

from classifier.contract import TAGS
from classifier.data import independent_set, training_set
from classifier.evaluation import evaluate
from classifier.language import normalise
from classifier.model import TrainedClassifier


def test_the_set_is_never_trained_on_and_covers_the_contract() -> None:
    independent = independent_set()
    trained = {normalise(t.text) for t in training_set()}
    # «да», «не я», «соедините с оператором», «идите вы со своими долгами» are stock phrases
    # anyone writes; a turn of six words or more does not coincide by chance
    shared = [t.text for t in independent if normalise(t.text) in trained]
    assert [text for text in shared if len(text.split()) >= 6] == []
    counts = Counter(tag for t in independent for tag in t.tags)
    assert {tag: counts[tag] for tag in TAGS if counts[tag] < 20} == {}
    assert len({t.context.today for t in independent}) >= 10


def test_figures_on_phrasing_nobody_here_wrote(model: TrainedClassifier) -> None:
    gold = independent_set()
    report = evaluate(gold, [model.classify(t.text, t.context) for t in gold])
    assert report.macro_f1 >= 0.92
    assert report.date_accuracy >= 0.95
    assert report.amount_accuracy >= 0.92
