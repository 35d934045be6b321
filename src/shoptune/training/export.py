"""`shoptune export --merge`: fold a LoRA adapter into its base model and save a plain transformers model.

Example:
    >>> merged_dir = export_merged(Path("runs/sft/adapter"), Path("runs/sft/merged"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from shoptune.errors import ConfigError
from shoptune.training.sft import RUN_FILE


def base_model_of(adapter_dir: Path) -> str:
    run_file = adapter_dir / RUN_FILE
    if run_file.exists():
        return json.loads(run_file.read_text())["base_model"]
    config = adapter_dir / "adapter_config.json"
    if config.exists():
        return json.loads(config.read_text())["base_model_name_or_path"]
    raise ConfigError(f"{adapter_dir}: not an adapter folder (no {RUN_FILE} or adapter_config.json)")


def load_with_adapter(adapter_dir: Path, base: str | None = None):
    """Base model + adapter (a PeftModel), and the tokenizer saved with the adapter."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    from shoptune.models import load_causal_lm

    model, _ = load_causal_lm(base or base_model_of(adapter_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    return PeftModel.from_pretrained(model, str(adapter_dir)), tokenizer


def export_merged(adapter_dir: Path, out: Path, base: str | None = None) -> Path:
    """Merge the adapter into the base weights and write model + tokenizer atomically."""
    model, tokenizer = load_with_adapter(adapter_dir, base)
    merged = model.merge_and_unload()
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if (adapter_dir / RUN_FILE).exists():
        shutil.copy(adapter_dir / RUN_FILE, tmp / RUN_FILE)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out
