"""Optional MLflow tracking of sweep runs: params, metrics and eval files per arm x seed.

MLflow is an optional extra (``pip install 'shoptune[tracking]'``), so the core install stays light; with
``tracking.mlflow: false`` (the default) nothing is imported. The default store is a local folder,
``DIR/mlruns``; ``tracking.uri`` points anywhere MLflow can log to.

Example:
    >>> tracker = Tracker(Tracking(mlflow=True), Path("runs/sweep"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoptune.errors import ConfigError

if TYPE_CHECKING:
    from shoptune.experiments.sweep import Arm, Tracking


class Tracker:
    """Logs each finished run of a sweep to MLflow when enabled; a no-op otherwise."""

    def __init__(self, cfg: Tracking, root: Path) -> None:
        self.enabled = cfg.mlflow
        self.root = root
        if not self.enabled:
            return
        try:
            import mlflow
        except ImportError:
            raise ConfigError(
                "tracking.mlflow: MLflow is not installed; `pip install 'shoptune[tracking]'` or set it to false"
            ) from None
        self.mlflow = mlflow
        if cfg.uri is None:
            # The default is a plain folder beside the sweep: no server, no database. MLflow 3.x still reads
            # and writes it but asks for this opt-in (its skinny install has no SQL backend anyway).
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow.set_tracking_uri(cfg.uri or (root / "mlruns").resolve().as_uri())
        mlflow.set_experiment(root.resolve().name)

    def log_run(self, arm: Arm, seed: int, sft: Any, run_dir: Path, eval_dir: Path) -> None:
        if not self.enabled:
            return
        metrics = json.loads((eval_dir / "metrics.json").read_text(encoding="utf-8"))
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        with self.mlflow.start_run(run_name=f"{arm.name}-seed{seed}"):
            self.mlflow.log_params(
                {"arm": arm.name, "seed": seed, **{f"level.{k}": v for k, v in arm.levels.items()}, **_flat(sft)}
            )
            scores = {f"task.{t}": v["score"] for t, v in metrics["tasks"].items()}
            groups = {f"group.{g}": v for g, v in metrics["groups"].items()}
            train = {k: float(summary[k]) for k in ("steps", "train_tokens", "train_seconds", "tokens_per_s")}
            self.mlflow.log_metrics({"overall": metrics["overall"], **scores, **groups, **train})
            self.mlflow.log_artifacts(str(eval_dir), artifact_path="eval")


def _flat(sft: Any) -> dict[str, Any]:
    """The SFT config as dotted params (MLflow params are flat strings of at most 6000 characters)."""
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            out[prefix.rstrip(".")] = json.dumps(node)[:6000] if isinstance(node, list | dict) else node

    walk(sft.model_dump(mode="json"), "")
    return out
