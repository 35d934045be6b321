"""The public Python API: `import shoptune` stays light, every public name resolves, and one call does what the
command does (same checks, same one-line errors)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import shoptune
from shoptune import relevance
from shoptune.errors import ShoptuneError


def test_import_shoptune_loads_no_heavy_module() -> None:
    code = (
        "import sys, shoptune; print(shoptune.__version__); "
        "print(sorted(m for m in ('torch', 'typer', 'transformers', 'shoptune.api') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == [shoptune.__version__, "[]"]


def test_every_public_name_resolves() -> None:
    assert "__version__" in shoptune.__all__ and "build_data" in dir(shoptune)
    for name in shoptune.__all__:
        assert getattr(shoptune, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = shoptune.nope


def test_relevance_one_call_functions_do_not_hide_their_modules() -> None:
    from shoptune.relevance.predictor import load_predictor
    from shoptune.relevance.scoring import evaluate_pairs

    assert callable(relevance.evaluate) and callable(relevance.predict) and callable(relevance.train)
    assert relevance.evaluate.__module__ == relevance.predict.__module__ == "shoptune.relevance.api"
    assert callable(evaluate_pairs) and load_predictor is relevance.load_predictor


def test_bad_input_raises_the_line_the_cli_prints_naming_the_argument(tmp_path) -> None:
    with pytest.raises(ShoptuneError, match="^capability='nope': no task has it"):
        shoptune.list_tasks(capability="nope")
    with pytest.raises(ShoptuneError, match="^view='nope': source 'home_depot' has no such view"):
        shoptune.validate_source(tmp_path / "x.csv", "home_depot", view="nope")
    with pytest.raises(ShoptuneError, match="^kind='nope': must be one of 'routing', 'prefix-ablation'"):
        relevance.compare("nope", tmp_path / "out")
    with pytest.raises(ShoptuneError, match="^adapter='.*missing': no such folder"):
        shoptune.evaluate("smollm2-135m", ["hd_relevance_mc"], tmp_path / "eval", adapter=tmp_path / "missing")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(ShoptuneError, match="did not write"):
        shoptune.build_data(shoptune.configs_dir() / "data_demo.yaml", mine, tasks=["hd_relevance_mc"])
    assert (mine / "notes.txt").read_text() == "keep"


def test_build_then_evaluate_a_tiny_model_in_two_calls(tmp_path) -> None:
    from shoptune.testing import build_tiny_causal_lm

    data = tmp_path / "data"
    steps: list[tuple[str, int, int]] = []
    manifest = shoptune.build_data(
        shoptune.configs_dir() / "data_demo.yaml",
        data,
        tasks=["hd_relevance_mc"],
        progress=lambda *step: steps.append(step),
    )
    assert steps == [("hd_relevance_mc", 0, 1), ("hd_relevance_mc", 1, 1)]
    assert manifest["tasks"]["hd_relevance_mc"]["counts"]["test"] > 0

    lm = build_tiny_causal_lm(tmp_path / "lm")
    bars: dict[str, int] = {}

    def add(name: str, total: int):
        bars[name] = 0
        return lambda n: bars.__setitem__(name, bars[name] + n)

    metrics = shoptune.evaluate(str(lm), ["hd_relevance_mc"], tmp_path / "eval", data=data, limit=4, progress=add)
    assert metrics["tasks"]["hd_relevance_mc"]["n"] == 4 and bars == {str(lm): 4}
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert written["model"] == str(lm) and written["overall"] == metrics["overall"]
    assert len((tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()) == 4


def test_heldout_folders_accept_a_run_or_its_adapter(tmp_path: Path) -> None:
    from shoptune.api import heldout_folders

    (tmp_path / "run" / "adapter").mkdir(parents=True)
    assert heldout_folders(tmp_path / "run") == (tmp_path / "run" / "adapter", tmp_path / "run" / "eval")
    assert heldout_folders(tmp_path / "run" / "adapter", tmp_path / "o") == (
        tmp_path / "run" / "adapter",
        tmp_path / "o",
    )
