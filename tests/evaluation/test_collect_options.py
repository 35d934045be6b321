"""`collect_items` (the Python API behind `shoptune eval`) refuses bad options with one line naming the option,
before it reads any data."""

from pathlib import Path

import pytest

from shoptune.errors import ShoptuneError
from shoptune.evaluation.collect import collect_items

SAMPLE = f"shopbench:{Path(__file__).resolve().parents[1] / 'fixtures' / 'shopbench_sample.jsonl'}"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": 0}, "limit=0: must be at least 1"),
        ({"limit": -3}, "limit=-3: must be at least 1"),
        ({"shots": -1}, "shots=-1: must be at least 0"),
        ({"split": "validation"}, "split='validation': must be one of 'train', 'dev', 'test'"),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(ShoptuneError) as info:
        collect_items([SAMPLE], **options)
    assert str(info.value) == message


def test_good_options_still_work():
    assert len(collect_items([SAMPLE], limit=1)) == 7  # one per task in the sample
    assert len(collect_items([SAMPLE], split="dev", shots=0)) == 8


def test_unavailable_metric_dependency_fails_at_load(monkeypatch):
    # A metric that cannot run here (e.g. jp-bleu without MeCab) must stop the run before the model is loaded,
    # not after every row was scored.
    import dataclasses

    from shoptune.evaluation import metrics

    def missing() -> None:
        raise metrics.MetricDependencyError("BLEU tokenizer 'ja-mecab' is unavailable")

    monkeypatch.setitem(metrics.METRICS, "bleu", dataclasses.replace(metrics.METRICS["bleu"], check=missing))
    with pytest.raises(ShoptuneError, match="ja-mecab"):
        collect_items([SAMPLE])
