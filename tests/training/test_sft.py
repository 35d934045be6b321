"""The SFT recipe on a tiny random model: answer-only loss, training reduces loss, resume after a crash
reproduces the uninterrupted run, and the merged export gives the same logits as base + adapter."""

import json
import shutil

import pytest
import torch
import yaml

from shoptune.data.build import BuildConfig, build
from shoptune.errors import ConfigError
from shoptune.testing import build_tiny_causal_lm
from shoptune.training.config import load_sft_config
from shoptune.training.examples import IGNORE, encode_example
from shoptune.training.export import export_merged, load_with_adapter
from shoptune.training.sft import run_sft

TASKS = ["hd_relevance_mc", "hd_query_product", "hd_query_ranking"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, demo_data):
    root = tmp_path_factory.mktemp("sft")
    model_dir = build_tiny_causal_lm(root / "tiny", seed=0)
    data_dir = root / "data"
    build(BuildConfig(data_root=str(demo_data), tasks=TASKS), data_dir)
    return root, model_dir, data_dir


def _config(root, model_dir, data_dir, holdout=("hd_query_ranking",), **optim):
    cfg = {
        "model": str(model_dir),
        "data": {
            "path": str(data_dir),
            "tasks": ["hd_relevance_mc", "hd_query_product"],
            "holdout": holdout if isinstance(holdout, dict) else list(holdout),
            "max_length": 128,
        },
        "mixture": {"strategy": "cap", "cap": 24},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.1, "target_modules": ["q_proj", "v_proj"]},
        "optim": {
            "epochs": 2,
            "lr": 5e-3,
            "batch_tokens": 512,
            "checkpoint_every": 2,
            "log_every": 1,
            "bf16": False,
            **optim,
        },
    }
    path = root / f"cfg-{len(list(root.glob('cfg-*')))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_sft_config(path)


def test_loss_is_on_answer_tokens_only(setup):
    from transformers import AutoTokenizer

    _, model_dir, _ = setup
    tok = AutoTokenizer.from_pretrained(model_dir)
    seq = encode_example(tok, prompt="which one?\nAnswer:", answer="1", max_length=64)
    answer_positions = [i for i, label in enumerate(seq.labels) if label != IGNORE]
    assert answer_positions and answer_positions == list(range(answer_positions[0], len(seq)))
    assert tok.decode([seq.input_ids[i] for i in answer_positions]).startswith("1")


def test_training_runs_records_mixture_and_holds_out(setup):
    root, model_dir, data_dir = setup
    out = root / "run"
    summary = run_sft(_config(root, model_dir, data_dir), out, log=lambda m: None)
    assert summary["steps"] > 2 and 0 < summary["trainable_parameters"] < summary["total_parameters"]
    assert summary["holdout"] == ["hd_query_ranking"] and "hd_query_ranking" not in summary["tasks"]
    mixture = json.loads((out / "mixture.json").read_text())
    assert mixture["epoch_0"]["tasks"] == {"hd_query_product": 24, "hd_relevance_mc": 24}
    run = json.loads((out / "adapter" / "shoptune_run.json").read_text())
    assert run["holdout"] == ["hd_query_ranking"] and set(run["prompts"]) == set(summary["tasks"])
    assert (out / "adapter" / "chat_template.jinja").exists() or "chat_template" in json.loads(
        (out / "adapter" / "tokenizer_config.json").read_text()
    )
    losses = [json.loads(line)["loss"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2


def test_resume_after_crash_matches_uninterrupted_run(setup):
    root, model_dir, data_dir = setup
    full = run_sft(_config(root, model_dir, data_dir), root / "full", log=lambda m: None)
    with pytest.raises(KeyboardInterrupt):
        run_sft(_config(root, model_dir, data_dir), root / "crashed", log=lambda m: None, stop_after=3)
    resumed = run_sft(_config(root, model_dir, data_dir), root / "crashed", resume=True, log=lambda m: None)
    assert resumed["steps"] == full["steps"]
    a, b = _weights(root / "full"), _weights(root / "crashed")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_gradient_checkpointing_gives_the_same_weights(setup):
    root, model_dir, data_dir = setup
    plain = root / "full"
    if not plain.exists():
        run_sft(_config(root, model_dir, data_dir), plain, log=lambda m: None)
    run_sft(_config(root, model_dir, data_dir, gradient_checkpointing=True), root / "ckpt", log=lambda m: None)
    a, b = _weights(plain), _weights(root / "ckpt")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def _last_checkpoint(run):
    return sorted((run / "checkpoints").glob("step-*"))[-1]


def _weights(run):
    from safetensors.torch import load_file

    return load_file(str(_last_checkpoint(run) / "trainable.safetensors"))


def test_resume_refuses_a_changed_config_naming_the_keys(setup):
    """The issue's repro: cap 40, killed, then --resume with cap 8 and lr 1e-2 used to mix the two configs."""
    root, model_dir, data_dir = setup
    out = root / "changed"
    with pytest.raises(KeyboardInterrupt):
        run_sft(_config(root, model_dir, data_dir), out, log=lambda m: None, stop_after=2)
    before = sorted(p.name for p in (out / "checkpoints").iterdir())
    cfg = _config(root, model_dir, data_dir)
    cfg.mixture.cap, cfg.optim.lr = 8, 1e-2
    with pytest.raises(ConfigError) as err:
        run_sft(cfg, out, resume=True, log=lambda m: None)
    message = str(err.value)
    assert "mixture.cap" in message and "optim.lr" in message and "optim.seed" not in message
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == before and not (out / "adapter").exists()
    # Keys that do not change the trained weights may change: checkpoint and log intervals.
    same = _config(root, model_dir, data_dir, checkpoint_every=3, log_every=2)
    resumed = run_sft(same, out, resume=True, log=lambda m: None)
    assert json.loads((out / "adapter" / "shoptune_run.json").read_text())["config"]["optim"]["lr"] == 5e-3
    assert resumed["steps"] > 2


def test_checkpoint_restores_python_numpy_and_torch_rng(tmp_path):
    import random

    import numpy as np

    from shoptune.training.checkpoint import load_checkpoint, save_checkpoint

    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    path = save_checkpoint(tmp_path, 1, model, optimizer, scheduler, {"epoch": 0})
    draws = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    assert load_checkpoint(path, model, optimizer, scheduler)["step"] == 1
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == draws


def test_damaged_checkpoint_is_one_line_naming_it(tmp_path):
    from shoptune.errors import ShoptuneError
    from shoptune.training.checkpoint import load_checkpoint, save_checkpoint

    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    path = save_checkpoint(tmp_path, 1, model, optimizer, scheduler, {"epoch": 0})
    (path / "optim.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ShoptuneError, match="step-000001: damaged checkpoint"):
        load_checkpoint(path, model, optimizer, scheduler)


def test_merged_export_gives_same_logits(setup):
    root, model_dir, data_dir = setup
    out = root / "run_merge"
    run_sft(_config(root, model_dir, data_dir, epochs=1), out, log=lambda m: None)
    peft_model, tok = load_with_adapter(out / "adapter")
    merged_dir = export_merged(out / "adapter", root / "merged")
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(merged_dir)
    ids = tok("Query: angle bracket\nAnswer:", return_tensors="pt")["input_ids"]
    peft_model.eval()
    merged.eval()
    with torch.no_grad():
        assert torch.allclose(peft_model(input_ids=ids).logits, merged(input_ids=ids).logits, atol=1e-4)


def test_heldout_comparison_reports_both_groups(setup):
    from shoptune.experiments.heldout import compare_base_and_tuned
    from shoptune.reports.plots import plot_base_vs_tuned

    root, model_dir, data_dir = setup
    out = root / "run_eval"
    # held-out tasks in a named group: the report gives the group its own row
    run_sft(
        _config(root, model_dir, data_dir, holdout={"ranking": ["hd_query_ranking"]}, epochs=1), out, log=lambda m: None
    )
    seen: dict[str, list[int]] = {}

    def progress(name, total):
        seen[name] = [total, 0]
        return lambda n: seen[name].__setitem__(1, seen[name][1] + n)

    report = compare_base_and_tuned(out / "adapter", limit=6, log=lambda m: None, progress=progress)
    assert set(report["groups"]) == {"held-in", "held-out"}
    assert set(seen) == {"base", "tuned"} and all(total == done > 0 for total, done in seen.values())
    assert report["tasks"]["hd_query_ranking"]["group"] == "held-out"
    for row in report["tasks"].values():
        lo, hi = row["ci95"]
        assert lo <= row["delta"] <= hi
        assert row["delta"] == pytest.approx(row["tuned"] - row["base"])  # the difference of the printed scores
    assert (out / "eval" / "base" / "metrics.json").exists() and (out / "eval" / "tuned" / "predictions.jsonl").exists()
    assert report["subgroups"]["ranking"]["delta"] == report["groups"]["held-out"]["delta"]
    assert "held-out mean" in (out / "eval" / "comparison.md").read_text()
    assert "held-out: ranking" in (out / "eval" / "comparison.md").read_text()
    # issue 21, point 6: each choice task's row carries the majority score, both models' most frequent answer
    # (flagged at 90%) and macro-F1 beside accuracy, and the table shows them
    mc = report["tasks"]["hd_relevance_mc"]
    assert 0 < mc["majority"] <= 1 and 0 <= mc["tuned_macro_f1"] <= 1 and 0 <= mc["base_macro_f1"] <= 1
    assert mc["tuned_mode"]["constant"] == (mc["tuned_mode"]["share"] >= 0.9)
    table = (out / "eval" / "comparison.md").read_text()
    assert "| majority |" in table and f"{mc['majority']:.3f}" in table and "one answer: " in table
    assert plot_base_vs_tuned(report, out / "eval" / "plot.png").stat().st_size > 1000

    # a second comparison reuses the base scores (checked row by row) and reports the same base numbers
    again = compare_base_and_tuned(
        out / "adapter", out=root / "again", limit=6, log=lambda m: None, base_from=out / "eval" / "base"
    )
    assert again["groups"]["held-in"]["base"] == report["groups"]["held-in"]["base"]
    assert again["tasks"] == report["tasks"]
    from shoptune.errors import ShoptuneError

    # one group alone, written elsewhere
    held_out = compare_base_and_tuned(out / "adapter", out=root / "only", limit=3, log=lambda m: None, only="held-out")
    assert set(held_out["groups"]) == {"held-out"} and set(held_out["tasks"]) == {"hd_query_ranking"}
    assert (root / "only" / "comparison.md").exists()
    with pytest.raises(ShoptuneError, match="is not"):
        compare_base_and_tuned(out / "adapter", out=root / "only", limit=3, log=lambda m: None, only="heldout")
    with pytest.raises(ShoptuneError, match="predictions for"):
        compare_base_and_tuned(
            out / "adapter", out=root / "bad", limit=3, log=lambda m: None, base_from=out / "eval" / "base"
        )


def test_holdout_groups_are_validated(setup):
    from shoptune.errors import ConfigError

    root, model_dir, data_dir = setup
    cfg = _config(root, model_dir, data_dir, holdout={"a": ["hd_query_ranking"], "b": ["hd_relevance_mc"]})
    assert cfg.data.holdout_tasks() == ["hd_query_ranking", "hd_relevance_mc"]
    assert cfg.data.holdout_groups() == {"a": ["hd_query_ranking"], "b": ["hd_relevance_mc"]}
    with pytest.raises(ConfigError, match="listed more than once: hd_query_ranking"):
        _config(root, model_dir, data_dir, holdout={"a": ["hd_query_ranking"], "b": ["hd_query_ranking"]})


def test_answer_only_loss_equals_the_models_own_loss():
    from shoptune.testing import make_tiny_causal_lm
    from shoptune.training.batching import collate
    from shoptune.training.examples import answer_only_loss

    model, tok = make_tiny_causal_lm(seed=1)
    seqs = [
        encode_example(tok, prompt=p, answer=a, max_length=64)
        for p, a in [("q one?", "1"), ("a longer question?", "yes no")]
    ]
    batch = collate(seqs, tok.pad_token_id)
    with torch.no_grad():
        assert torch.allclose(answer_only_loss(model, batch), model(**batch).loss, atol=1e-5)


def test_atomic_tasks_join_the_mixture_except_the_excluded(setup, demo_data):
    from shoptune.errors import ConfigError
    from shoptune.training.sft import prepare_data

    root, model_dir, _ = setup
    data_dir = root / "data-atomic"
    build(BuildConfig(data_root=str(demo_data), tasks=TASKS, atomic=True), data_dir)
    cfg = _config(root, model_dir, data_dir).model_copy(deep=True)
    cfg.data.atomic = True
    data = prepare_data(cfg, root / "unused", log=lambda m: None)
    derived = set(data.derived)
    assert {"hd_query_product__match_yes_no", "hd_query_product__grade_3way"} <= derived
    cfg.data.atomic_exclude = ["hd_query_product__grade_3way"]
    data = prepare_data(cfg, root / "unused", log=lambda m: None)
    assert "hd_query_product__grade_3way" not in data.train and "hd_query_product__match_yes_no" in data.train
    cfg.data.atomic_exclude = ["hd_query_ranking__match_yes_no"]
    with pytest.raises(ConfigError, match="atomic_exclude"):
        prepare_data(cfg, root / "unused", log=lambda m: None)


def test_max_grad_norm_zero_means_no_clipping(setup):
    """`optim.max_grad_norm: 0` once clipped every gradient to norm 0; it means "no clipping", as in relevance."""
    from safetensors.torch import load_file

    root, model_dir, data_dir = setup
    weights = {}
    for name, norm in (("zero", 0), ("huge", 1e9)):
        cfg = _config(root, model_dir, data_dir, epochs=1, max_grad_norm=norm, weight_decay=0.0)
        run_sft(cfg, root / f"clip-{name}", log=lambda m: None)
        weights[name] = load_file(str(root / f"clip-{name}" / "adapter" / "adapter_model.safetensors"))
    assert weights["zero"].keys() == weights["huge"].keys()
    for key, value in weights["zero"].items():
        assert torch.equal(value, weights["huge"][key]), key
    lora_b = [v for k, v in weights["zero"].items() if "lora_B" in k]
    assert lora_b and any(float(v.abs().sum()) > 0 for v in lora_b)  # it trained: B starts at zero


def test_both_recipes_read_max_grad_norm_zero_alike():
    from shoptune.relevance.config import RelevanceConfig
    from shoptune.training.config import OptimConfig

    assert (
        RelevanceConfig.model_validate({"data": {"path": "d"}, "train": {"max_grad_norm": 0}}).train.max_grad_norm == 0
    )
    assert OptimConfig.model_validate({"max_grad_norm": 0}).max_grad_norm == 0
    with pytest.raises(ValueError):
        OptimConfig.model_validate({"max_grad_norm": -1})


def test_heldout_test_entities_are_removed_from_every_training_task(setup):
    """Issue 21, point 3: a training task's record that shares an entity with a held-out task's test split is
    dropped from the run (here a query of held-out hd_query_ranking's test split put into hd_query_product's train)."""
    from shoptune.data.store import load_records, split_path, write_split
    from shoptune.training.sft import prepare_data

    root, model_dir, data_dir = setup
    leaky = root / "data-leaky"
    shutil.copytree(data_dir, leaky)
    held = load_records(leaky, "hd_query_ranking", "test")[0]
    train = load_records(leaky, "hd_query_product", "train")
    twin = train[0].model_copy(update={"metadata": {"groups": [held.metadata["groups"][0], "p:held-out-twin"]}})
    write_split([*train, twin], split_path(leaky, "hd_query_product", "train"), "pair")
    data = prepare_data(_config(root, model_dir, leaky), root / "unused", log=lambda m: None)
    assert data.heldout_removed == {"hd_relevance_mc": 0, "hd_query_product": 1}
    assert len(data.train["hd_query_product"]) == len(train)
    unseen = {k for r in load_records(leaky, "hd_query_ranking", "test") for k in r.metadata["groups"]}
    assert not any(unseen & set(r.metadata["groups"]) for recs in data.train.values() for r in recs)


def test_a_run_that_builds_its_data_claims_its_folder(tmp_path):
    """A config with ``data.build`` (no ``data.path``: the data is built into the run) passes the output check
    and marks the run folder; the shipped `configs/sft_full.yaml` is such a config."""
    from shoptune.io import read_marker
    from shoptune.training.sft import start_run_folder

    cfg = load_sft_config("configs/sft_full.yaml")
    assert cfg.data.path is None and cfg.data.build
    start_run_folder(cfg, tmp_path / "run", resume=False)
    assert read_marker(tmp_path / "run")["kind"] == "sft-run"
