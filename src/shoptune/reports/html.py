"""One self-contained HTML report of any shoptune output folder (`shoptune report PATH`).

The folder's kind is recognised from its files (``shoptune.reports.kinds``); a demo folder becomes one page with a
section per recognised folder inside it. Plots are inline SVG, styles inline, and there are no scripts, so the
file opens anywhere and makes no network request. The file is written atomically.

Example:
    >>> from shoptune.reports import build_report
    >>> build_report(Path("runs/sweeps/chain_of_task"), Path("/tmp/chain.html"))  # doctest: +SKIP
    PosixPath('/tmp/chain.html')
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from shoptune import validate
from shoptune.errors import ShoptuneError, argument_label, python_api
from shoptune.io import OutputError, atomic_write_text, claim_file, mark_file, read_json
from shoptune.reports.blocks import KeyValues, Note, Section, Table, Text, fmt, slug
from shoptune.reports.common import attempt, display_name, flatten, generic_cell
from shoptune.reports.kinds import KINDS, build_section, detect, not_recognised
from shoptune.reports.provenance import duration, environment, manifest_blocks, now

#: Kinds in the order a composite report shows them.
KIND_ORDER = ["sft-run", "eval", "relevance-run", "relevance-eval", "comparison", "sweep"]
DEMO_FILE = "demo.json"
GENERATOR = "shoptune report"


@python_api
def build_report(path: str | Path, out: str | Path | None = None, *, overwrite: bool = False) -> Path:
    """Write one self-contained HTML report of the shoptune output folder ``path``; returns the file written.

    ``out`` defaults to ``path/report.html``. A folder of an unknown kind is refused with one line naming the kinds
    that are known; an existing ``out`` that shoptune did not write (or that changed since) is refused rather than
    replaced, unless ``overwrite``. ``path`` and ``out`` may be ``str`` or ``Path``.

    Example:
        >>> from pathlib import Path
        >>> from shoptune.reports import build_report
        >>> build_report(Path("runs/sft"))  # doctest: +SKIP
        PosixPath('runs/sft/report.html')
        >>> build_report(Path("runs/sweeps/rank"), Path("/tmp/rank.html"))  # doctest: +SKIP
        PosixPath('/tmp/rank.html')
    """
    path = validate.path_arg(path, "path")
    given = validate.optional(validate.path_arg, out, "out")
    overwrite = validate.flag(overwrite, "overwrite")
    kind = detect(path)
    if kind is None:
        raise not_recognised(path)
    # The default is no option the user typed: its errors say "report PATH/report.html", not "--out ...".
    option = argument_label("out", default="--out") if given is not None else "report"
    out = check_report_output(given if given is not None else path / "report.html", overwrite=overwrite, option=option)
    html = render_report(path, kind)
    atomic_write_text(out, html)
    mark_file(out)
    return out


def check_report_output(out: Path, *, overwrite: bool = False, option: str | None = None) -> Path:
    """``out`` must be a new .html file or one shoptune wrote and nobody changed since (or ``overwrite``);
    ``option`` is how errors name it (default: ``--out`` / ``out``, as the caller knows it)."""
    option = option or argument_label("out", default="--out")
    if out.suffix.lower() not in (".html", ".htm") and not out.is_dir():
        raise OutputError(f"{option} {out}: give a .html file")
    return claim_file(out, option=option, overwrite=overwrite)  # a folder: "is a folder; give a file path"


def collect(path: Path, kind: str) -> tuple[list[Section], list[Any]]:
    """The sections of the report and the blocks shown above them (a demo's notes)."""
    if kind != "demo":
        return [build_section(path, kind, "sec-" + slug(display_name(path)))], []
    intro = demo_intro(path)
    found = demo_members(path)
    sections = []
    for member, member_kind in found:
        rel = member.relative_to(path).as_posix()
        section = build_section(member, member_kind, "sec-" + slug(rel))
        section.title = f"{section.title.split(':')[0]}: {rel}"
        sections.append(section)
    if not found:
        intro.append(
            Note(f"{path}: no recognised shoptune folder inside yet (expected sub-folders such as sft/).", "warn")
        )
    manifest = path / "data" / "manifest.json"
    if manifest.is_file():
        intro.append(Text("The demo's data build:"))
        intro += manifest_blocks(path / "data")[:1]
    return sections, intro


def demo_members(path: Path) -> list[tuple[Path, str]]:
    """Recognised folders in a demo folder's sub-folders, and one level further down (e.g. relevance/<run>): a
    sub-folder that is not itself a report kind (or is a demo's own container, marked demo) is looked into."""
    found: list[tuple[Path, str]] = []
    for child in _subfolders(path):
        kind = detect(child)
        if kind is not None and kind != "demo":
            found.append((child, kind))
            continue
        for grandchild in _subfolders(child):
            inner = detect(grandchild)
            if inner is not None and inner != "demo":
                found.append((grandchild, inner))
    found.sort(key=lambda pk: (KIND_ORDER.index(pk[1]) if pk[1] in KIND_ORDER else len(KIND_ORDER), str(pk[0])))
    return found


def _subfolders(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def demo_intro(path: Path) -> list[Any]:
    """demo.json, when the demo wrote one: ``notes`` (what the demo's size can and cannot show) as text, the
    machine and the seconds per stage as tables, anything else folded away as a flat table of its values."""
    file = path / DEMO_FILE
    if not file.is_file():
        return []
    blocks: list[Any] = []
    with attempt(blocks, DEMO_FILE):
        data = read_json(file)
        if not isinstance(data, dict):
            raise ShoptuneError(f"{file}: expected a JSON object")
        blocks += demo_answer(data)
        notes = data.get("notes")
        for line in [notes] if isinstance(notes, str) else (notes or []):
            blocks.append(Text(str(line)))
        seconds = data.get("seconds")
        if isinstance(seconds, dict) and seconds:
            blocks.append(KeyValues([(f"wall time: {k}", duration(v)) for k, v in seconds.items()]))
        machine = data.get("machine")
        if isinstance(machine, dict) and machine:
            blocks.append(KeyValues([(f"demo machine: {k}", _compact(v)) for k, v in machine.items()]))
        rest = flatten({k: v for k, v in data.items() if k not in ("notes", "seconds", "machine")})
        if rest:
            rows = [[k, generic_cell(v)] for k, v in rest.items()]
            blocks.append(
                Table(["key", "value"], rows, folded=f"Everything else {DEMO_FILE} records ({len(rows)} values)")
            )
    return blocks


#: z_{0.975} + z_{0.8}: an item-level MDE at 80% power is this many standard errors.
_MDE_Z = 1.959964 + 0.841621


def demo_answer(data: dict[str, Any]) -> list[Any]:
    """The demo's answer first: each half's contrast with its CI, the majority baseline, the item-level MDE (one
    training seed: no seed-level inference) and what that means, in one sentence each."""
    lines: list[str] = []
    rel = data.get("relevance")
    if isinstance(rel, dict) and isinstance(rel.get("macro_f1"), dict):
        d, majority = rel["macro_f1"], rel.get("majority") or {}
        lines.append(
            f"Relevance, multi-task vs single-task on {rel.get('low_resource', '?')}: macro-F1 "
            f"{fmt(d.get('a'))} → {fmt(d.get('b'))}, Δ {_delta_text(d)}; always answering the majority label scores "
            f"{fmt(majority.get('macro_f1'))}. {_verdict(d, rel.get('one_label'))}"
        )
    sft = data.get("sft_eval")
    if isinstance(sft, dict):
        for group in ("held-in", "held-out"):
            d = sft.get(group)
            if isinstance(d, dict) and "delta" in d:
                rows = [r for r in (sft.get("tasks") or {}).values() if isinstance(r, dict) and r.get("group") == group]
                constant = {"tuned": bool(rows) and all(r.get("tuned_one_answer") for r in rows)}
                lines.append(
                    f"SFT, tuned vs zero-shot ({group}, {d.get('tasks', '?')} tasks): {fmt(d.get('base'))} → "
                    f"{fmt(d.get('tuned'))}, Δ {_delta_text(d)}. {_verdict(d, constant)}"
                )
    if not lines:
        return []
    return [Text("Answer first (one training seed each, so every interval is over items only):"), *map(Text, lines)]


def _delta_text(d: dict[str, Any]) -> str:
    ci = d.get("ci95") or [None, None]
    return f"{fmt(d.get('delta'))} [{fmt(ci[0])}, {fmt(ci[1])}]"


def _verdict(d: dict[str, Any], one_label: Any) -> str:
    """What a demo contrast means: a one-label model learned nothing; else the CI against the item-level MDE."""
    if isinstance(one_label, dict) and any(one_label.values()):
        who = ", ".join(k for k, v in one_label.items() if v)
        return f"Not an effect of training: the {who} model gives one answer (90% or more of the items) on every task."
    ci = d.get("ci95")
    if not (isinstance(ci, list) and len(ci) == 2 and all(isinstance(v, int | float) for v in ci)):
        return ""
    mde = _MDE_Z * (ci[1] - ci[0]) / 3.92
    if ci[0] > 0 or ci[1] < 0:
        return f"The interval excludes 0 (item-level; this size detects only effects of about {mde:.2f} or more)."
    return f"No effect larger than {mde:.2f} (item-level MDE at 80% power at this size)."


def _compact(value: Any) -> str:
    if isinstance(value, int | float | bool) or value is None:
        return fmt(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("shoptune.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )


def render_report(path: Path, kind: str) -> str:
    """The report of ``path`` (of ``kind``) as an HTML string."""
    import shoptune

    sections, intro = collect(path, kind)
    env = environment()
    template = _environment().get_template("report.html.j2")
    name = display_name(path)
    return template.render(
        title=f"shoptune report: {name}",
        path=str(path),
        kind_label=KINDS[kind].split(" (")[0],
        written=now(),
        version=shoptune.__version__,
        generator=f"{GENERATOR} {shoptune.__version__}",
        sections=sections,
        intro=intro,
        environment=KeyValues(env),
    )


__all__ = ["build_report", "render_report"]
