"""`shoptune report`: every kind of output folder, made by the real recipes with tiny models, becomes one
self-contained HTML page whose tables show the numbers the folder holds."""

from __future__ import annotations

import doctest
import json
import re
import shutil
from pathlib import Path

import pytest

from shoptune.errors import ShoptuneError
from shoptune.reports import build_report
from shoptune.reports.kinds import detect

from .conftest import DEMO_NOTES, text_of

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")


def report_of(path: Path, out: Path) -> tuple[str, str]:
    written = build_report(path, out)
    assert written == out and out.is_file()
    html = out.read_text(encoding="utf-8")
    return html, text_of(html)


def assert_clean(html: str, text: str) -> None:
    assert "Could not show" not in text, re.findall(r"Could not show[^.]*", text)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")


def clean_report(reports, name: str) -> tuple[str, str]:
    """The html and text of the report of ``world[name]``, checked to be a whole page that shows every block."""
    _, html, text = reports(name)
    assert_clean(html, text)
    return html, text


def ci(value: float, interval: list[float], digits: int = 3) -> str:
    return f"{value:.{digits}f} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def signed(entry: dict) -> str:
    lo, hi = entry["ci95"]
    return f"{entry['delta']:+.3f} [{lo:+.3f}, {hi:+.3f}]"


# ------------------------------------------------------------------------------------------------ kinds
def test_each_folder_is_recognised_as_its_kind(world, tmp_path):
    expected = {
        "demo": "demo",
        "sft": "sft-run",
        "eval": "eval",
        "heldout": "comparison",
        "rel_multi": "relevance-run",
        "rel_single": "relevance-run",
        "rel_eval": "relevance-eval",
        "multitask": "comparison",
        "comparisons": "comparison",
        "sweep": "sweep",
    }
    assert {name: detect(world[name]) for name in expected} == expected
    assert detect(world["sweep"] / "arms" / "r1__one" / "seed-1" / "run") == "sft-run"  # a sweep's arm is a run
    assert detect(world["data"]) is None and detect(tmp_path) is None


def test_sft_run_report(world, reports):
    run = world["sft"]
    html, text = clean_report(reports, "sft")
    for title in ("Training loss", "Learning rate", "Examples per capability", "Examples per task", "Gain per task"):
        assert f">{title}<" in html  # the plots' titles are SVG text
    assert html.count("<svg") == 5
    mixture = json.loads((run / "mixture.json").read_text())
    for epoch, counts in mixture.items():
        assert epoch.replace("_", " ") in text
        for capability in counts["capabilities"]:
            assert capability in text
    comparison = json.loads((run / "eval" / "comparison.json").read_text())
    for task, row in comparison["tasks"].items():
        majority = f"{row['majority']:.3f}" if "majority" in row else "–"  # the majority answer beside the scores
        assert f"{task} {row['metric']} {row['n']} {majority} {ci(row['base'], row['base_ci95'])}" in text
    for group, row in comparison["groups"].items():
        assert f"{group} {row['tasks']} {ci(row['base'], row['base_ci95'])}" in text
        assert signed(row) in text
    assert "Held-in tasks (2)" in text and "Held-out tasks (1)" in text
    # provenance: the config, the data build's sources with their sha256, shoptune's version and commit, machine
    manifest = json.loads((world["data"] / "manifest.json").read_text())
    for name, digest in manifest["sources"].items():
        assert name in text and digest[:16] in text
    summary = json.loads((run / "summary.json").read_text())
    assert "config.json" in text and "lora:" in text and "wall time (training)" in text
    assert f"steps {summary['steps']}" in text and "git commit" in text and "CPUs" in text


def test_eval_folder_report(world, reports):
    html, text = clean_report(reports, "eval")
    metrics = json.loads((world["eval"] / "metrics.json").read_text())
    for task, m in metrics["tasks"].items():
        head = f"{task} {m['group']} {m['metric']} {m['n']} {ci(m['score'], m['ci95'])}"
        if "majority" in m:  # a choice task: its trivial baselines follow the score
            mode = m["model_mode"]
            flag = " ⚠ one answer" if m["constant"] else ""
            head += f" {m['majority']['score']:.3f} {mode['score']:.3f} ({mode['share']:.0%} answer"
            assert head in text and flag in text, head
        else:
            assert f"{head} – – {m['unparsed']}" in text
    for group, value in metrics["groups"].items():
        assert f"{group} (mean) {group} task mean {ci(value, metrics['groups_ci95'][group])}" in text
    assert f"overall mean of groups {ci(metrics['overall'], metrics['overall_ci95'])}" in text
    assert html.count("<svg") == 1 and ">Score per task<" in html


def test_relevance_run_report(world, reports):
    html, text = clean_report(reports, "rel_multi")
    metrics = json.loads((world["rel_multi"] / "eval" / "test" / "metrics.json").read_text())
    for task, m in metrics["tasks"].items():
        assert f"{task} {m['n']} " in text
        assert ci(m["macro_f1"], m["macro_f1_ci95"]) in text and ci(m["accuracy"], m["accuracy_ci95"]) in text
        assert f"{task} {m['per_label_f1']['exact']:.3f} {m['per_label_f1']['partial']:.3f}" in text
    for part in ("Scores (test)", "All metrics (test)", "Confusion matrices (test)", "Calibration (test)"):
        assert f'">{part}</a>' in html  # in the table of contents
    assert ">Top-label reliability" in html and ">Class-wise reliability" in html
    assert ">Training loss<" in html and ">Learning rate<" in html and "sampling.json" in text
    run = json.loads((world["rel_multi"] / "run.json").read_text())
    assert f"routing {run['routing']}" in text and "config.yaml" in text
    single, single_text = clean_report(reports, "rel_single")
    assert "single-task model" in single_text and "single-task yes" in single_text


def test_calibration_from_stored_probabilities(world, reports):
    """The ECE per task is recomputed from predictions.jsonl: 15 equal-width bins of the top probability."""
    import numpy as np

    rows = [json.loads(line) for line in (world["rel_eval"] / "predictions.jsonl").read_text().splitlines()]
    _, _, text = reports("rel_eval")
    for task in sorted({r["task"] for r in rows}):
        mine = [r for r in rows if r["task"] == task]
        conf = np.array([max(r["probs"].values()) for r in mine])
        right = np.array([max(r["probs"], key=r["probs"].get) == r["label"] for r in mine], dtype=float)
        bins = np.clip(np.ceil(conf * 15).astype(int) - 1, 0, 14)
        ece = sum(abs(np.sum(conf[bins == b] - right[bins == b])) for b in range(15)) / len(mine)
        assert f"{task} {len(mine)} {conf.mean():.3f} {right.mean():.3f} {ece:.3f}" in text


def test_new_metric_keys_appear_without_a_code_change(world, tmp_path):
    folder = tmp_path / "eval"
    shutil.copytree(world["rel_eval"], folder)
    metrics = json.loads((folder / "metrics.json").read_text())
    for m in metrics["tasks"].values():
        m["ndcg@10"], m["ndcg@10_ci95"] = 0.7771, [0.6012, 0.9034]
        m["brand_new_metric"] = 0.1234
        m["threshold_sweep"] = {"best": 0.4321}
    metrics["fitted_rule"] = {"temperature": 1.5, "bias": [0.1, -0.2, 0.1]}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    html, text = report_of(folder, tmp_path / "new.html")
    assert_clean(html, text)
    assert "ndcg@10 [95% CI]" in text and "0.777 [0.601, 0.903]" in text  # the scores table: it has an interval
    assert "brand_new_metric" in text and "0.1234" in text and "threshold_sweep.best" in text and "0.4321" in text
    assert "fitted_rule.temperature 1.5000" in text and "fitted_rule.bias [0.1, -0.2, 0.1]" in text


def test_missing_probabilities_or_predictions_are_a_note_not_a_failure(world, tmp_path):
    folder = tmp_path / "eval"
    shutil.copytree(world["rel_eval"], folder)
    rows = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
    (folder / "predictions.jsonl").write_text("".join(json.dumps({**r, "probs": None}) + "\n" for r in rows))
    html, text = report_of(folder, tmp_path / "a.html")
    assert "predictions.jsonl has no class probabilities" in text and ">Top-label reliability" not in html
    (folder / "predictions.jsonl").unlink()
    _, text = report_of(folder, tmp_path / "b.html")
    assert "No predictions.jsonl beside metrics.json" in text and "Confusion matrices" in text


def test_comparison_folders(world, reports):
    html, text = clean_report(reports, "multitask")
    data = json.loads((world["multitask"] / "multitask.json").read_text())
    for task, e in data["tasks"].items():
        assert f"{task} ({data['train_pairs'][task]} pairs, low-resource) {e['n']}" in text
        assert signed(e["macro_f1"]) in text
    assert signed(data["mean_over_tasks"]["macro_f1"]) in text and ">Multi-task gain<" in html

    html, text = clean_report(reports, "comparisons")
    routing = json.loads((world["comparisons"] / "routing.json").read_text())
    worst = routing["tests_vs_best"]["dec-none"]["mean_over_tasks"]
    assert f"decoder none dec-none {routing['scores']['dec-none']['mean_over_tasks']['macro_f1']:.3f}" in text
    assert signed(worst["macro_f1"]) in text and "<0.001" in text
    ablation = json.loads((world["comparisons"] / "prefix_ablation.json").read_text())
    assert f"Δ(decoder) − Δ(cross-encoder) {signed(ablation['decoder_minus_encoder'])}" in text
    ensemble = json.loads((world["comparisons"] / "ensemble.json").read_text())
    assert f"{ensemble['best_member']} (best single)" in text and "ens (ensemble)" in text
    assert html.count("<svg") == 3  # a forest plot each
    assert "The runs compared" in text  # provenance: each run's recorded meta


def test_heldout_output_alone(reports):
    html, text = clean_report(reports, "heldout")
    assert "Held-in tasks (2)" in text and ">Gain per task<" in html
    assert "the adapter's training config" in text  # found through tuned/metrics.json -> the adapter's run file


def test_sweep_report(world, reports):
    html, text = clean_report(reports, "sweep")
    report = json.loads((world["sweep"] / "comparisons.json").read_text())
    for arm, by_group in report["arms"].items():
        s = by_group["all"]
        assert f"{arm} {ci(s['score'], s['ci95'])}" in text
        assert f"{arm} 1 done" in text  # the status table
        counts = report["baselines"]["one_answer"][arm]  # the arm's one-answer tasks per seed, beside its score
        assert f"{', '.join(map(str, counts))} of {report['baselines']['tasks']}" in text
    assert f"majority answer {report['baselines']['majority']['all']['score']:.3f}" in text
    inter = report["interaction"]["all"]
    for r in inter["rows"]:
        cells = " ".join(
            ci(inter["cells"][f"{r}|{c}"]["score"], inter["cells"][f"{r}|{c}"]["ci95"]) for c in inter["cols"]
        )
        assert f"{r} {cells} {signed(inter['gains'][r])}" in text
    assert f"interaction {signed(inter['interaction'])}" in text
    assert ">all: interaction" in html and "zero-shot tiny-lm" in text  # heatmap; per-task table's base column
    seq = report["sequences"]["rank"]["all"]  # compare.sequences: the curve with its band, the steps' contrasts
    assert ">rank: score per step<" in html and ">rank: gain over the first step<" in html
    step = seq["contrasts"][0]
    assert (
        f"{step['arm']} {ci(seq['curve'][1]['score'], seq['curve'][1]['ci95'])} – {signed(step['vs_previous'])}" in text
    )
    assert f"Slope per step: {signed(seq['slope'])}" in text
    assert "sweep.json" in text and "wall time (training, all arms)" in text and "over 4 runs" in text


def test_a_sweeps_arm_is_an_sft_run_with_the_sweeps_evaluation(world, tmp_path):
    arm = world["sweep"] / "arms" / "r4__two" / "seed-1"
    html, text = report_of(arm / "run", tmp_path / "arm.html")
    assert_clean(html, text)
    metrics = json.loads((arm / "eval" / "metrics.json").read_text())
    assert "Evaluation (the sweep's fixed items)" in text and "Not evaluated yet" not in text
    for task, m in metrics["tasks"].items():
        assert f"{task} {m['group']} {m['metric']} {m['n']} {ci(m['score'], m['ci95'])}" in text


def test_sweep_in_progress_and_damaged_files(world, tmp_path):
    folder = tmp_path / "running"
    folder.mkdir()
    for name in ("sweep.json", ".shoptune"):
        shutil.copy(world["sweep"] / name, folder / name)
    html, text = report_of(folder, tmp_path / "running.html")
    assert "No comparisons.json yet" in text and "0 of 4 runs done; 4 pending" in text
    (folder / "comparisons.json").write_text('{"groups": {"all": [')  # cut off
    _, text = report_of(folder, tmp_path / "damaged.html")
    assert "Could not show comparisons.json" in text and "damaged, not valid JSON" in text


def test_demo_is_one_page_with_a_section_per_folder(reports):
    html, text = clean_report(reports, "demo")
    titles = re.findall(r'<section class="kind" id="[^"]+">\s*<h2>([^<]+)</h2>', html)
    assert titles == [
        "SFT run: sft",
        "Relevance run: relevance/multi",
        "Relevance run: relevance/single",
        "Comparison: relevance/compare",
        "About this report",
    ]
    assert DEMO_NOTES in text and "wall time: total 2.5 min" in text and "demo machine: cpus 2" in text
    assert "sft_eval.held-in.delta 0.1250" in text  # the rest of demo.json, folded away
    # issue 22, point 7: the page opens with the answer, each half's contrast with its CI and what it means
    assert text.index("Answer first") < text.index(DEMO_NOTES)
    assert "SFT, tuned vs zero-shot (held-in" in text
    anchors = re.findall(r'href="#([^"]+)"', html)
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "ids are unique on the page (SVG ids are prefixed per figure)"
    assert anchors and set(anchors) <= set(ids), "every table-of-contents link has its target"


def test_reports_are_self_contained(reports):
    for name in ("demo", "sweep", "comparisons", "rel_eval"):
        _, html, _ = reports(name)
        assert "<script" not in html and "<link" not in html and "@import" not in html and "<iframe" not in html
        assert not re.search(r"\bsrc\s*=", html), "nothing is loaded from anywhere"
        assert not re.search(r"url\(\s*['\"]?(?!#)", html), "CSS and SVG refer only to the page's own ids"
        assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', html))
        assert not re.search(r"https?://(?!www\.w3\.org/)", html), "no address but the SVG namespaces"


def test_cli_prints_the_path_last_and_refuses_what_it_does_not_know(world, report_cli, tmp_path):
    out = tmp_path / "r" / "eval.html"
    code, stdout, stderr = report_cli("report", world["eval"], "--out", out)
    assert code == 0, stderr
    assert stdout.strip().splitlines()[-1] == str(out) and out.is_file()

    empty = tmp_path / "empty"
    empty.mkdir()
    for path, says in (
        (empty, "not a shoptune output folder a report knows; expected an SFT run"),
        (world["data"], "(it is a build folder)"),
        (tmp_path / "nope", "no such folder"),
        (out, "not a folder"),
    ):
        code, _, stderr = report_cli("report", path)
        assert code == 2 and len(stderr.strip().splitlines()) == 1 and says in stderr, stderr
    precious = tmp_path / "notes.html"
    precious.write_text("<p>mine</p>")
    code, _, stderr = report_cli("report", world["eval"], "--out", precious)
    assert code == 2 and "shoptune did not write it" in stderr and precious.read_text() == "<p>mine</p>"
    lookalike = tmp_path / "old.html"  # what a report looks like is no proof that shoptune wrote this file
    lookalike.write_text('<meta name="generator" content="shoptune report 0.1">')
    code, _, stderr = report_cli("report", world["eval"], "--out", lookalike)
    assert code == 2 and "shoptune did not write it" in stderr and "shoptune report 0.1" in lookalike.read_text()
    code, _, stderr = report_cli("report", world["eval"], "--out", tmp_path / "x.txt")
    assert code == 2 and "give a .html file" in stderr
    code, _, stderr = report_cli("report", world["eval"], "--out", tmp_path)
    assert code == 2 and "is a folder" in stderr


def test_default_output_and_rewriting_are_atomic_and_leave_no_temp_files(world, tmp_path):
    folder = tmp_path / "eval"
    shutil.copytree(world["eval"], folder)
    out = build_report(folder)  # the default: inside the folder
    assert out == folder / "report.html"
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")
    first = stamp.sub("", text_of(out.read_text()))
    second = stamp.sub("", text_of(build_report(folder).read_text()))  # its own report may be replaced
    assert first == second
    assert sorted(p.name for p in folder.iterdir()) == [".shoptune", "metrics.json", "predictions.jsonl", "report.html"]
    with pytest.raises(ShoptuneError, match="not a shoptune output folder"):
        build_report(tmp_path)


def test_docstring_examples():
    from shoptune.reports import blocks, common, figures, provenance, section_relevance

    for module in (blocks, common, figures, provenance, section_relevance):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_git_commit_of_this_checkout_or_unknown(monkeypatch):
    import subprocess

    from shoptune.reports import provenance

    provenance.git_commit.cache_clear()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True)
    if head.returncode == 0:
        assert provenance.git_commit().removesuffix("-dirty") == head.stdout.strip()
    provenance.git_commit.cache_clear()
    monkeypatch.setenv("PATH", "")  # no git at all: the report still says something true
    try:
        assert provenance.git_commit() == "unknown"
    finally:
        provenance.git_commit.cache_clear()
