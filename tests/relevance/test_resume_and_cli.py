"""Resume after a kill equals an uninterrupted run; the CLI trains, evaluates raw files and streams predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from safetensors.torch import load_file
from typer.testing import CliRunner

from shoptune.cli.relevance import relevance_app, train_relevance
from shoptune.errors import ShoptuneError

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")

HD_CSV = (
    '"id","product_uid","product_title","search_term","relevance"\r\n'
    '"1","100001","Simpson Strong-Tie 12-Gauge Angle","angle bracket","3"\r\n'
    '"2","100001","Simpson Strong-Tie 12-Gauge Angle","l bracket","2.5"\r\n'
    '"3","100002","BEHR Premium Textured DeckOver 1-gal.","deck paint","2"\r\n'
    '"4","100003","Delta Vero 1-Handle Shower Faucet Trim Kit","shower only faucet","1.33"\r\n'
    '"5","100004","Whirlpool 1.9 cu. ft. Over the Range Microwave","microwave over stove","3"\r\n'
    '"6","100005","Hampton Bay 52 in. Ceiling Fan","ceiling fan with light","2.33"\r\n'
)


def _weights(artifact: Path) -> dict:
    state = load_file(str(artifact / "heads_and_private.safetensors"))
    state.update({f"backbone.{k}": v for k, v in load_file(str(artifact / "backbone" / "model.safetensors")).items()})
    return state


@pytest.mark.parametrize("family", ["cross_encoder", "decoder"])
def test_resume_after_a_kill_matches_an_uninterrupted_run(
    family, tiny_encoder, tiny_decoder, tiny_data, make_config, tmp_path
) -> None:
    from shoptune.relevance.recipe import train

    model = tiny_encoder if family == "cross_encoder" else tiny_decoder
    # Dropout on, checkpoints every 3 steps, the kill after step 5: the resumed run must redo steps 4-5 with the
    # same dropout masks and batches, from the restored RNG and schedule state.
    cfg = make_config(tiny_data, model, family, "mhp", epochs=3, checkpoint_every=3, max_batch=16)
    cfg.model.head_dropout = 0.2
    cfg.model.lora.dropout = 0.1
    straight = train(cfg, tmp_path / "straight", quiet=True)
    stopped = train(cfg, tmp_path / "resumed", quiet=True, stop_after=5)
    checkpoints = tmp_path / "resumed" / "checkpoints"
    assert not (stopped / "relevance.json").exists() and [p.name for p in checkpoints.iterdir()] == ["step-000005"]
    state = json.loads((checkpoints / "step-000005" / "state.json").read_text())
    assert state["state"]["step"] == 5 and state["config"]["train"]["max_batch"] == 16
    resumed = train(cfg, tmp_path / "resumed", quiet=True, resume=True)
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] == b[key]).all(), key
    assert not checkpoints.exists()  # cleaned up once finished
    with pytest.raises(ShoptuneError, match="already holds a run"):
        train(cfg, tmp_path / "resumed", quiet=True)


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("train-relevance")(train_relevance)
    app.add_typer(relevance_app, name="relevance")
    return app


def _run(*args: str) -> None:
    result = CliRunner().invoke(_cli(), [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_encoder, tiny_data, make_config) -> Path:
    """One tiny multi-task run through the CLI, shared by the eval and predict tests."""
    import yaml

    root = tmp_path_factory.mktemp("cli")
    config = root / "relevance_tiny.yaml"
    cfg = make_config(tiny_data, tiny_encoder, "cross_encoder", "multihead", epochs=1)
    config.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    _run("train-relevance", config, "--out", root / "run", "--set", "eval.splits=[test]")
    return root / "run"


def test_train_cli_writes_the_run_folder(trained) -> None:
    for name in (
        "config.yaml",
        "sampling.json",
        "train_log.jsonl",
        "run.json",
        "model/relevance.json",
        "eval/test/metrics.json",
        "eval/test/predictions.jsonl",
    ):
        assert (trained / name).is_file(), name
    sampling = json.loads((trained / "sampling.json").read_text())
    assert sampling["epochs"][0]["tasks"]["alpha"]["drawn"] == 48


def test_eval_scores_a_raw_home_depot_csv(trained, tmp_path) -> None:
    csv = tmp_path / "train.csv"
    csv.write_bytes(HD_CSV.encode("latin-1"))
    out = tmp_path / "hd"
    # The tiny model's "alpha" task was built from home_depot:query_product, so it is picked without --task.
    _run(
        "relevance",
        "eval",
        "--model",
        trained,
        "--source",
        "home_depot",
        "--input",
        csv,
        "--out",
        out,
        "--bootstrap",
        "50",
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "alpha" and metrics["source"] == "home_depot" and metrics["view"] == "query_product"
    task = metrics["tasks"]["alpha"]
    assert task["n"] == 6 and 0.0 <= task["accuracy"] <= 1.0
    assert set(task) >= {"accuracy", "accuracy_ci95", "macro_f1", "macro_f1_ci95", "per_label_f1", "confusion_matrix"}
    assert task["confusion_matrix"]["labels"] == ["exact", "partial", "irrelevant"]
    assert sum(map(sum, task["confusion_matrix"]["matrix"])) == 6
    assert set(metrics) >= {"overall", "mean_over_tasks", "tasks"}
    rows = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    assert [r["label"] for r in rows] == ["exact", "exact", "partial", "irrelevant", "exact", "partial"]
    assert all(abs(sum(r["probs"].values()) - 1) < 1e-4 for r in rows)
    # Another view of the same source maps to the task trained from it.
    _run(
        "relevance",
        "eval",
        "--model",
        trained,
        "--source",
        "home_depot",
        "--input",
        csv,
        "--view",
        "query_query",
        "--out",
        tmp_path / "qq",
        "--bootstrap",
        "20",
    )
    assert json.loads((tmp_path / "qq" / "metrics.json").read_text())["task"] == "shade"


def test_eval_without_a_matching_task_says_so(trained, tmp_path) -> None:
    from shoptune.relevance.api import map_source_task
    from shoptune.relevance.predictor import artifact_info

    with pytest.raises(ShoptuneError, match="pass --task"):
        map_source_task(artifact_info(trained / "model"), "wdc_pairs_json", None, None)
    assert map_source_task(artifact_info(trained / "model"), "wdc_pairs_json", None, "alpha")[0] == "alpha"


def test_predict_streams_jsonl_and_parquet(trained, tmp_path) -> None:
    src = tmp_path / "pairs.jsonl"
    src.write_text(
        "".join(
            json.dumps({"left": f"mug {i}", "right": "red mug", "task": "shade" if i % 2 else None}) + "\n"
            for i in range(11)
        )
    )
    _run(
        "relevance",
        "predict",
        "--model",
        trained,
        "--input",
        src,
        "--out",
        tmp_path / "p.jsonl",
        "--task",
        "alpha",
        "--chunk",
        "4",
    )
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").open()]
    assert [r["id"] for r in rows] == [str(i) for i in range(1, 12)]
    assert [r["task"] for r in rows][:2] == ["alpha", "shade"] and "label" not in rows[0]
    _run(
        "relevance",
        "predict",
        "--model",
        trained,
        "--input",
        tmp_path / "p.jsonl",
        "--out",
        tmp_path / "p.parquet",
        "--chunk",
        "3",
    )
    table = pq.read_table(str(tmp_path / "p.parquet")).to_pylist()
    assert len(table) == 11 and [r["prediction"] for r in table] == [r["prediction"] for r in rows]


def test_single_task_flag_trains_one_model_per_task(tiny_encoder, tiny_data, make_config, tmp_path) -> None:
    from shoptune.relevance.predictor import PerTaskPredictor, load_predictor
    from shoptune.relevance.recipe import train

    cfg = make_config(tiny_data, tiny_encoder, "cross_encoder", "multihead", epochs=1)
    cfg.single_task = True
    artifact = train(cfg, tmp_path / "single", quiet=True)
    assert (tmp_path / "single" / "single" / "alpha" / "model" / "relevance.json").is_file()
    predictor = load_predictor(artifact)
    assert isinstance(predictor, PerTaskPredictor) and predictor.tasks == ["alpha", "shade"]
    run = json.loads((tmp_path / "single" / "run.json").read_text())
    assert run["single_task"] and run["train_pairs"] == {"alpha": 48, "shade": 24}
    metrics = json.loads((tmp_path / "single" / "eval" / "test" / "metrics.json").read_text())
    assert set(metrics["tasks"]) == {"alpha", "shade"}


def test_resume_refuses_the_old_flat_checkpoint_layout(tmp_path):
    """A run killed before the shared checkpoint module kept RUN/checkpoint/: --resume says so, never retrains."""
    from shoptune.io import write_marker
    from shoptune.relevance.config import RelevanceConfig
    from shoptune.relevance.recipe import start_run_folder

    out = tmp_path / "run"
    (out / "checkpoint").mkdir(parents=True)
    (out / "checkpoint" / "state.json").write_text("{}")
    write_marker(out, "relevance-run")
    cfg = RelevanceConfig.model_validate({"data": {"path": str(tmp_path / "data")}})
    with pytest.raises(ShoptuneError, match="older shoptune layout"):
        start_run_folder(cfg, out, resume=True)
