"""Errors raised in a worker process (data build --num-proc, Ray workers) reach the parent whole: the same class,
line and fields after pickling (a DataError's __init__ takes four arguments, so plain pickling failed)."""

from __future__ import annotations

import pickle

import pytest

from shoptune.errors import ArgumentError, ConfigError, DataError, LeakError, ShoptuneError


@pytest.mark.parametrize(
    "error",
    [
        DataError("train.csv", 12, "relevance", "not a number: 'abc'"),
        ConfigError("c.yaml: key 'sead': unknown"),
        LeakError("task x: 3 records"),
        ArgumentError("limit", "must be at least 1", 0),
        ShoptuneError("plain"),
    ],
)
def test_a_shoptune_error_survives_pickling(error: ShoptuneError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error) and vars(back) == vars(error)
