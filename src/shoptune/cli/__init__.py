"""The `shoptune` command line: each command parses its options, calls one library function and prints.
Every command has `--help`; errors print one line, never a traceback.

Example:
    $ shoptune tasks list
    $ shoptune data build configs/data_demo.yaml --out runs/demo/data
    $ shoptune data validate --source home_depot train.csv

Modules: :mod:`.catalog` (tasks, sources, models), :mod:`.data` (data build / stats / validate), :mod:`.generate`
(data generate), :mod:`.eval`, :mod:`.train` (train sft, export), :mod:`.relevance` (train relevance and the
relevance commands), :mod:`.experiment`, :mod:`.report`, :mod:`.demo`; :mod:`.console` and :mod:`.types` are
shared by them.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

# typer vendors click (0.29+): its exceptions, not the click package's, are what a parse error raises.
from typer._click import exceptions as click_errors

from shoptune import __version__
from shoptune.cli.catalog import models_app, sources_app, tasks_app
from shoptune.cli.console import console, err_console
from shoptune.cli.data import data_app
from shoptune.cli.demo import demo as demo_cmd
from shoptune.cli.eval import eval_cmd
from shoptune.cli.experiment import experiments_app
from shoptune.cli.generate import generate as generate_cmd
from shoptune.cli.relevance import relevance_app
from shoptune.cli.report import report as report_cmd
from shoptune.cli.serve import serve as serve_cmd
from shoptune.cli.train import export, train_app
from shoptune.cli.types import option_name
from shoptune.errors import ShoptuneError, argument_names

app = typer.Typer(
    help="shoptune: multi-task adaptation of language models to e-commerce.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Registration order is the order `shoptune --help` lists them in. (The functions are imported under other
# names than their modules: `shoptune.cli.demo` stays the module.)
app.command("demo")(demo_cmd)
app.command("eval", context_settings={"allow_extra_args": True, "ignore_unknown_options": False})(eval_cmd)
app.command("report")(report_cmd)
app.command("export")(export)
app.command("serve")(serve_cmd)
data_app.command("generate")(generate_cmd)
for name, group in (
    ("tasks", tasks_app),
    ("data", data_app),
    ("sources", sources_app),
    ("models", models_app),
    ("train", train_app),
    ("relevance", relevance_app),
    ("experiments", experiments_app),
):
    app.add_typer(group, name=name)
# `shoptune experiment run` reads naturally too: the same commands under the singular name.
app.add_typer(experiments_app, name="experiment", hidden=True)

__all__ = ["app", "data_app", "main"]


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an unexpected error.")] = False,
    allow_hub: Annotated[
        bool,
        typer.Option(
            "--allow-hub", help="Let model names download from the Hugging Face Hub (default: local files only)."
        ),
    ] = False,
) -> None:
    # For the whole command: the API's argument errors name this command line's options (`--limit`, not `limit`).
    ctx.with_resource(argument_names(option_name))
    if allow_hub:
        os.environ["SHOPTUNE_ALLOW_HUB"] = "1"
    if version:
        console.print(f"shoptune {__version__}")
        raise typer.Exit()


def main() -> None:
    """Console entry point: every failure is one line on stderr, never a traceback (unless --debug).

    Exit codes: 0 done, 2 bad input or option (a usage error or a shoptune error), 1 an unexpected error,
    130 interrupted.
    """
    debug = "--debug" in sys.argv[1:] or os.environ.get("SHOPTUNE_DEBUG") == "1"
    if "--allow-hub" not in sys.argv[1:] and os.environ.get("SHOPTUNE_ALLOW_HUB") != "1":
        # Offline for the whole process, not only for shoptune's own loaders: nothing reaches the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        code = app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click_errors.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except ShoptuneError as exc:
        _fail(str(exc), 2)
    except (KeyboardInterrupt, typer.Abort):
        _fail("interrupted", 130)
    except OSError as exc:
        if debug:
            raise
        _fail(_os_error(exc), 2)
    except Exception as exc:
        if debug:
            raise
        reason = str(exc).splitlines()[0] if str(exc) else ""
        _fail(f"unexpected {type(exc).__name__}: {reason} (rerun as `shoptune --debug ...` for the traceback)", 1)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)


def _os_error(exc: OSError) -> str:
    """`[Errno 2] No such file or directory: 'x'` as `x: no such file or directory`."""
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror.lower()}"
    return str(exc)
