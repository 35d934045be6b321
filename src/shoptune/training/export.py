"""`shoptune export --merge`: fold a LoRA adapter into its base model and save a plain transformers model.

Example:
    >>> merged_dir = export_merged(Path("runs/sft/adapter"), Path("runs/sft/merged"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from shoptune.errors import ConfigError
from shoptune.io import claim_output, staging_dir
from shoptune.training.sft import RUN_FILE


def read_run_file(adapter_dir: Path) -> dict:
    """The ``shoptune_run.json`` of an adapter written by `shoptune train sft`, or one line naming the problem."""
    path = adapter_dir / RUN_FILE
    if not path.is_file():
        raise ConfigError(f"{adapter_dir}: not an adapter written by `shoptune train sft` (no {RUN_FILE})")
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: damaged ({exc})") from None
    missing = [k for k in ("base_model", "trained_tasks", "holdout") if not isinstance(run, dict) or k not in run]
    if missing:
        raise ConfigError(f"{path}: field {missing[0]!r} missing; not written by `shoptune train sft`")
    return run


def base_model_of(adapter_dir: Path) -> str:
    for name, key in ((RUN_FILE, "base_model"), ("adapter_config.json", "base_model_name_or_path")):
        path = adapter_dir / name
        if path.is_file():
            try:
                value = json.loads(path.read_text(encoding="utf-8"))[key]
            except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
                raise ConfigError(f"{path}: damaged or not written by shoptune/peft (no {key!r})") from None
            return str(value)
    raise ConfigError(f"{adapter_dir}: not an adapter folder (no {RUN_FILE} or adapter_config.json)")


def load_with_adapter(adapter_dir: Path, base: str | None = None):
    """Base model + adapter (a PeftModel), and the tokenizer saved with the adapter."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    from shoptune.models import check_safetensors_only, load_causal_lm

    check_safetensors_only(adapter_dir)  # adapter_model.bin alone is a pickle: refused before the base loads
    model, _ = load_causal_lm(base or base_model_of(adapter_dir))
    # An adapter folder is local: a typo in its path must not become a hub lookup.
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir), local_files_only=True)
    return PeftModel.from_pretrained(model, str(adapter_dir), local_files_only=True), tokenizer


def export_merged(adapter_dir: Path, out: Path, base: str | None = None) -> Path:
    """Merge the adapter into the base weights and write model + tokenizer atomically.

    ``out`` must be new, empty or an earlier export (checked before the model is loaded).
    """
    claim_output(out, "merged-model", inputs=[adapter_dir])
    base_model_of(adapter_dir)  # a folder that is not an adapter fails here, before the slow load
    model, tokenizer = load_with_adapter(adapter_dir, base)
    merged = model.merge_and_unload()
    with staging_dir(out, kind="merged-model", inputs=[adapter_dir]) as tmp:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if (adapter_dir / RUN_FILE).exists():
            shutil.copy(adapter_dir / RUN_FILE, tmp / RUN_FILE)
    return out
