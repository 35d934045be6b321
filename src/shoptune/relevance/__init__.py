"""Unified multi-task relevance: one model serves many entity-pair tasks on the 3-point scale.

Modules: :mod:`.config` (the YAML recipe config), :mod:`.sampling` (task-balanced sampling, dynamic batching),
:mod:`.model` (cross-encoder / decoder-LoRA backbones with none / prefix / multihead / mhp routing),
:mod:`.recipe` (the training script), :mod:`.predict` (serving, ensembles), :mod:`.evaluate` (metrics),
:mod:`.decision` (decision rules for rare grades, fitted on dev), :mod:`.calibration` (ECE, temperature scaling),
:mod:`.ranking` (NDCG@10 per query, Spearman vs raw ratings), :mod:`.compare` (the studies' comparisons and
significance tests).

Example:
    >>> from shoptune.relevance import load_config, train, load_predictor
    >>> artifact = train(load_config("configs/relevance_minilm.yaml"), "runs/rel")  # doctest: +SKIP
    >>> load_predictor(artifact).tasks  # doctest: +SKIP
"""

from shoptune.relevance.config import RelevanceConfig, load_config
from shoptune.relevance.data import Pair
from shoptune.relevance.decision import fit_decision
from shoptune.relevance.predict import load_predictor
from shoptune.relevance.recipe import train

__all__ = ["Pair", "RelevanceConfig", "fit_decision", "load_config", "load_predictor", "train"]
