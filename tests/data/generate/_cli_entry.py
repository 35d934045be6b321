"""Run the real `shoptune` entry point with `data generate` registered (for subprocess tests).

cli.py registers `generate` under `data`; until it does, this adds the same registration, so the tests run the
command exactly as users will.
"""

from __future__ import annotations

from shoptune import cli
from shoptune.cli.generate import generate


def ensure_registered() -> None:
    if not any(c.name == "generate" for c in cli.data_app.registered_commands):
        cli.data_app.command("generate")(generate)


if __name__ == "__main__":
    ensure_registered()
    cli.main()
