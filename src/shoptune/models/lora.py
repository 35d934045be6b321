"""LoRA settings shared by both training recipes (SFT's ``lora:``, relevance's ``model.lora:``) and the one place
they become a peft ``LoraConfig``.

Example:
    >>> spec = LoraConfig(r=4, target_modules=["q_proj", "v_proj"])
    >>> spec.alpha, spec.enabled
    (16.0, True)
    >>> peft_lora_config(spec, task_type="CAUSAL_LM").r  # doctest: +SKIP
    4
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shoptune.config import StrictModel

#: Every attention and MLP projection of a Llama-style block (SmolLM2, Qwen, ...).
DEFAULT_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class LoraConfig(StrictModel):
    """Low-rank adapters on the model's linear layers; ``enabled: false`` trains every weight instead."""

    enabled: bool = True
    r: int = Field(default=8, ge=1)
    #: Scaling numerator: the update is multiplied by alpha / r (alpha / sqrt(r) with use_rslora).
    alpha: float = Field(default=16.0, gt=0)
    dropout: float = Field(default=0.05, ge=0, lt=1)
    #: Linear layers to adapt; "all-linear" lets peft pick every linear layer of the transformer blocks.
    target_modules: list[str] | Literal["all-linear"] = Field(default_factory=lambda: list(DEFAULT_TARGETS))
    #: Rank-stabilised scaling (alpha / sqrt(r)): higher ranks keep learning at the same learning rate.
    use_rslora: bool = False
    #: Weight-decomposed LoRA (magnitude and direction trained apart); slower per step.
    use_dora: bool = False


def peft_lora_config(spec: LoraConfig, task_type: str | None = None) -> Any:
    """The peft ``LoraConfig`` of ``spec``; ``task_type`` ("CAUSAL_LM") when peft wraps a whole LM."""
    from peft import LoraConfig as PeftLoraConfig

    return PeftLoraConfig(
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=spec.target_modules,
        use_rslora=spec.use_rslora,
        use_dora=spec.use_dora,
        bias="none",
        task_type=task_type,
    )
