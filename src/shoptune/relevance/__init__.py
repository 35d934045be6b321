"""Unified multi-task relevance: one model serves many entity-pair tasks on the 3-point scale.

One call per command (:mod:`.api`): :func:`train`, :func:`evaluate`, :func:`predict`, :func:`calibrate`,
:func:`compare`, :func:`export`. Modules: :mod:`.config` (the YAML recipe config), :mod:`.sampling` (task-balanced
sampling, the pools), :mod:`.model` (cross-encoder / decoder-LoRA backbones with none / prefix / multihead / mhp
routing), :mod:`.recipe` (the training script), :mod:`.predictor` (serving, ensembles), :mod:`.export` (OpenVINO /
ONNX Runtime exports), :mod:`.scoring` (metrics), :mod:`.decision` (decision rules for rare grades, fitted on
dev), :mod:`.calibration` (ECE, temperature scaling), :mod:`.ranking` (NDCG@10 per query, Spearman vs raw
ratings), :mod:`.comparisons` (the studies' comparisons and significance tests).

Example:
    >>> from shoptune import relevance
    >>> model = relevance.train("configs/relevance_minilm.yaml", "runs/rel")  # doctest: +SKIP
    >>> relevance.load_predictor(model).tasks  # doctest: +SKIP
    >>> relevance.predict(model, "pairs.jsonl", "scored.jsonl", task="hd_query_product")  # doctest: +SKIP
"""

from shoptune.relevance.api import calibrate, compare, evaluate, export, predict, train
from shoptune.relevance.config import RelevanceConfig, load_config
from shoptune.relevance.data import Pair
from shoptune.relevance.decision import fit_decision
from shoptune.relevance.predictor import load_predictor

__all__ = [
    "Pair",
    "RelevanceConfig",
    "calibrate",
    "compare",
    "evaluate",
    "export",
    "fit_decision",
    "load_config",
    "load_predictor",
    "predict",
    "train",
]
