"""`shoptune data generate`: instruction examples for a task, written by an LLM and filtered.

Example:
    $ shoptune data generate configs/generate/shopper_requests.yaml --out runs/generated/shopper_requests
    $ shoptune data generate configs/generate/shopper_requests.yaml --out runs/generated/shopper_requests --resume
    $ OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_MODEL=qwen2.5-7b-instruct OPENAI_API_KEY=... \
        shoptune data generate configs/generate/grocery_search_openai.yaml --out runs/generated/grocery_search_api
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shoptune.cli.console import console, log
from shoptune.cli.types import set_option
from shoptune.errors import ShoptuneError

SetOpt = set_option("Override a config key: target=500, backend.temperature=0.9")


def generate(
    config: Annotated[Path, typer.Argument(help="Generation config YAML (see configs/generate/).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder: the task, its examples, report and checkpoints.")],
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a killed or finished run: replies already paid for are reused.")
    ] = False,
    set_: SetOpt = None,
) -> None:
    """Generate instruction examples with an LLM, filter them, and write a task that `data build` reads."""
    from shoptune.api import generate_data

    report = generate_data(config, out, resume=resume, overrides=set_, log=log)
    console.print((out / "report.md").read_text(encoding="utf-8"), markup=False)
    if not report["kept"]:
        # A run that kept nothing is a failure a script must see (exit 1), with the commonest cause named.
        raise ShoptuneError(f"{out}: no examples kept ({_top_causes(report)}); see {out / 'report.md'}")
    files = report["files"]
    console.print(
        f"wrote {files['examples']} ({report['kept']} examples) and {files['task']}; "
        f"build it with task_dirs: [{files['task_dir']}]",
        markup=False,
    )


def _top_causes(report: dict) -> str:
    """'3 contaminated_entity, 1 unparseable' (the commonest drop causes), or why nothing came back at all."""
    counts: dict[str, int] = {}
    for causes in (report.get("dropped") or {}).values():
        for cause, n in causes.items():
            counts[cause] = counts.get(cause, 0) + n
    if not counts:
        return f"stopped: {report.get('stopped', 'unknown')}, nothing to filter"
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
    return "dropped: " + ", ".join(f"{n} {cause}" for cause, n in top)
