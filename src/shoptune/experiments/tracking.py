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

from shoptune.errors import ConfigError, DataError
from shoptune.validate import is_number

if TYPE_CHECKING:
    from shoptune.experiments.sweep import Arm, Tracking


class Tracker:
    """Logs each finished run of a sweep to MLflow when enabled; a no-op otherwise."""

    def __init__(self, cfg: Tracking, root: Path) -> None:
        self.enabled = cfg.mlflow
        self.cfg = cfg
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
        self.uri = cfg.uri or (root / "mlruns").resolve().as_uri()
        self._connect()

    def _connect(self) -> None:
        """Point MLflow at this sweep's store and experiment (again in each Ray worker, whose process starts
        with MLflow's defaults)."""
        if self.cfg.uri is None:
            # The default is a plain folder beside the sweep: no server, no database. MLflow 3.x still reads
            # and writes it but asks for this opt-in (its skinny install has no SQL backend anyway).
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.mlflow.set_tracking_uri(self.uri)
        self.mlflow.set_experiment(self.root.resolve().name)

    def log_run(self, arm: Arm, seed: int, sft: Any, run_dir: Path, eval_dir: Path) -> None:
        if not self.enabled:
            return
        self._connect()
        values = {**_metrics(eval_dir / "metrics.json"), **_train(run_dir / "summary.json")}  # read before logging
        with self.mlflow.start_run(run_name=f"{arm.name}-seed{seed}"):
            self.mlflow.log_params(
                {"arm": arm.name, "seed": seed, **{f"level.{k}": v for k, v in arm.levels.items()}, **_flat(sft)}
            )
            self.mlflow.log_metrics(values)
            self.mlflow.log_artifacts(str(eval_dir), artifact_path="eval")


def _metrics(path: Path) -> dict[str, float]:
    """overall, task.T and group.G of an eval's metrics.json; a damaged file is one line naming it."""
    from shoptune.io import read_json

    metrics = read_json(path, expect=dict)
    tasks, groups = metrics.get("tasks"), metrics.get("groups")
    scored = isinstance(tasks, dict) and all(isinstance(v, dict) and is_number(v.get("score")) for v in tasks.values())
    if not scored:
        raise DataError(path, 0, "tasks", "missing, or a task without a numeric score: the file is damaged")
    if not isinstance(groups, dict) or not all(is_number(v) for v in groups.values()):
        raise DataError(path, 0, "groups", "missing, or a group score that is not a number: the file is damaged")
    if not is_number(metrics.get("overall")):
        raise DataError(path, 0, "overall", "missing or not a number: the file is damaged")
    scores = {f"task.{t}": float(v["score"]) for t, v in tasks.items()}
    return {"overall": float(metrics["overall"]), **scores, **{f"group.{g}": float(v) for g, v in groups.items()}}


def _train(path: Path) -> dict[str, float]:
    """steps, train_tokens, train_seconds and tokens_per_s of a run's summary.json."""
    from shoptune.io import read_json

    summary = read_json(path, expect=dict)
    out = {}
    for key in ("steps", "train_tokens", "train_seconds", "tokens_per_s"):
        if not is_number(summary.get(key)):
            raise DataError(path, 0, key, "missing or not a number: the file is damaged")
        out[key] = float(summary[key])
    return out


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
