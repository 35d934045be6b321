"""A command that fails prints exactly one line on stderr: no empty line before it (rich's Progress.stop() ends a
line off a terminal even when its bar never started), and its words name what the user typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli

REPO = Path(__file__).resolve().parents[2]


def _exactly_one_line(code: int, err: str) -> str:
    assert code == 2, err
    assert err.count("\n") == 1 and err.endswith("\n") and err.startswith("error: "), repr(err)
    assert "Traceback" not in err and "unexpected" not in err, err
    return err.rstrip("\n")


# Each fails early, inside the command's progress bars (entered before the library call).
EARLY: dict[str, tuple[list[str], str]] = {
    "data-build": (["data", "build", "{tmp}/nope.yaml", "--out", "{tmp}/o"], "nope.yaml: config file not found"),
    "data-build-unknown-task": (
        ["data", "build", str(REPO / "configs" / "data_demo.yaml"), "--out", "{tmp}/o", "--tasks", "nope"],
        "--tasks: unknown task 'nope'",
    ),
    "eval": (
        ["eval", "--model", "m", "--tasks", "no_such_task", "--out", "{tmp}/e"],
        "--tasks: unknown task 'no_such_task'",
    ),
    "eval-missing-model": (
        ["eval", "--model", "{tmp}/no-model", "--tasks", "hd_relevance_mc", "--limit", "1", "--out", "{tmp}/e"],
        "no-model",
    ),
    "train-sft": (["train", "sft", "{tmp}/nope.yaml", "--out", "{tmp}/r"], "nope.yaml: config file not found"),
    "experiment-run": (["experiment", "run", "{tmp}/nope.yaml", "--out", "{tmp}/s"], "nope.yaml"),
    "demo": (["demo", "--config", "{tmp}/nope.yaml", "--out", "{tmp}/d"], "nope.yaml"),
}


@pytest.mark.parametrize("case", sorted(EARLY))
def test_an_early_failure_is_exactly_one_stderr_line(tmp_path: Path, case: str) -> None:
    argv, expected = EARLY[case]
    code, _, err = run_cli(*(a.format(tmp=tmp_path) for a in argv))
    line = _exactly_one_line(code, err)
    assert expected in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _eval_folder(root: Path) -> Path:
    """A folder `shoptune report` recognises as an eval (metrics.json and predictions.jsonl)."""
    root.mkdir()
    (root / "metrics.json").write_text(json.dumps({"overall": 0.5, "tasks": {}}))
    (root / "predictions.jsonl").write_text("")
    return root


def test_report_names_its_default_output_without_implying_out(tmp_path: Path) -> None:
    folder = _eval_folder(tmp_path / "ev")
    (folder / "report.html").write_text("<p>mine</p>")  # a user's file where the report would go
    line = _exactly_one_line(*run_cli("report", folder)[::2])
    assert "--out" not in line, line
    assert line == (
        f"error: report {folder / 'report.html'}: exists and shoptune did not write it; pass --overwrite to replace it"
    )
    assert (folder / "report.html").read_text() == "<p>mine</p>"
    line = _exactly_one_line(*run_cli("report", folder, "--out", folder / "report.html")[::2])
    assert line.startswith(f"error: --out {folder / 'report.html'}: exists"), line  # typed: named as typed


def test_lookups_name_the_option_or_argument_the_user_typed(tmp_path: Path) -> None:
    line = _exactly_one_line(*run_cli("tasks", "show", "no_such_task")[::2])
    assert line == "error: NAME 'no_such_task': unknown task (see `shoptune tasks list`)", line
    csv = tmp_path / "train.csv"
    csv.write_text("x\n")
    line = _exactly_one_line(*run_cli("data", "validate", "--source", "nope", csv)[::2])
    assert line.startswith("error: --source 'nope': unknown source adapter (known: "), line
    line = _exactly_one_line(*run_cli("tasks", "list", "--task-dir", tmp_path / "nope")[::2])
    assert line == f"error: --task-dir {tmp_path / 'nope'}: no such folder", line
