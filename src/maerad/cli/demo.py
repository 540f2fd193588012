"""``maerad demo``: the reference pipeline on the embedded synthetic phantom, end to end.

Steps (each prints what it does and shows a progress bar):

1. a small mixed phantom set (cervical, endometrial, adnexal, pelvic-floor and normal cases) written as
   study folders in train / val / test splits, with a preview montage and the rule-engine ground truth
   (the val split serves only as pre-training's held-out set);
2. a tiny 3D MAE pre-trained on the train split for a fixed number of steps, with its loss on the val
   split (fixed masks) and reconstruction figures of a train and a val study;
3. the report generator (pointer decoder over the pre-trained encoder) fine-tuned on a few labelled
   training cases for a fixed number of steps (``--finetune-seconds`` adds an optional wall-clock cap;
   a run it cuts short is reported as such, since its results then depend on the machine's speed);
4. evaluation on the held-out test split: a metrics table, ``metrics.json`` (``stage_accuracy``,
   ``n_test``, …), the FIGO stage confusion matrix, and one generated report in English and Chinese,
   headed by the case, its ground truth and a synthetic / not-for-clinical-use notice.

An existing OUT is reused: the demo first deletes its own outputs of an earlier run there (and nothing
else), so that no file of an old run is left next to the new ones; ``summary.json`` is written last,
so a folder without it holds an incomplete run. All data are synthetic: nothing here is clinical
validation.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from maerad.atomic import atomic_path, unwritable_reason, write_text_atomic
from maerad.errors import ConfigError, InputError

__all__ = ["DEMO_MODEL", "OUTPUT_FILES", "OUTPUT_FOLDERS", "add_parser", "run"]

# A ViT small enough to pre-train for a few minutes on a 2-core CPU (about 1.4 M parameters).
DEMO_MODEL: dict[str, Any] = {"embed_dim": 96, "depth": 4, "num_heads": 3, "decoder_embed_dim": 64,
                              "decoder_depth": 2, "decoder_num_heads": 2}

# What the demo writes into OUT: deleted at the start of a run, so that no old result survives it.
OUTPUT_FILES = ("summary.json", "metrics.json", "stage_confusion.png", "preview.png", "example_report_en.txt",
                "example_report_zh.txt")
OUTPUT_FOLDERS = ("phantom", "pretrain", "finetune")
_SPLITS = ("train", "val", "test")

_DESCRIPTION = """\
Run the reference pipeline on the embedded synthetic pelvic-MRI phantom, into OUT:

  [1/4] phantom: train / val / test study folders (OUT/phantom/), a preview montage (OUT/preview.png)
        and the rule-engine ground truth; the val split is pre-training's held-out set
  [2/4] MAE pre-training of a tiny 3D ViT on the train split, --pretrain-steps steps
        (OUT/pretrain/: checkpoint, log, loss and reconstruction figures)
  [3/4] report-generator fine-tuning on the first --labels labelled training cases (fewer if the
        train split has fewer), --finetune-steps steps (OUT/finetune/)
  [4/4] evaluation on the test split: metric table, OUT/metrics.json, OUT/stage_confusion.png, and one
        generated report (OUT/example_report_en.txt, OUT/example_report_zh.txt) with its ground truth;
        OUT/summary.json last

Budgets are step counts, so a seed gives the same run however busy the machine is (default run: about
5-6 minutes on a quiet 2-core CPU, up to about 9 on a busy one). --finetune-seconds optionally caps
fine-tuning by wall-clock time; a run it stops early is flagged in the console and in summary.json
(steps done vs planned) and its results are not comparable with a full run.

An existing OUT is replaced: the demo first deletes its own earlier outputs there (the folders
phantom/, pretrain/, finetune/ and the files listed above), nothing else. The demo cannot resume:
after Ctrl-C, run it again to start afresh.

Synthetic data only: nothing here is clinical validation, and the reports are not for clinical use."""

_STOP_HINT = "maerad demo has no --resume, so the demo stops here"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``maerad demo``."""
    p = subparsers.add_parser(
        "demo",
        help="run the reference pipeline on the embedded synthetic phantom",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=Path("maerad-demo"),
                   help="output folder; the demo's earlier outputs in it are replaced (default: %(default)s)")
    p.add_argument("--n-train", type=int, default=24, help="training cases (default: %(default)s)")
    p.add_argument("--n-val", type=int, default=8,
                   help="validation cases: pre-training's held-out loss and reconstruction figure "
                   "(default: %(default)s)")
    p.add_argument("--n-test", type=int, default=16, help="test cases (default: %(default)s)")
    p.add_argument("--pretrain-steps", type=int, default=120, help="MAE steps (default: %(default)s)")
    p.add_argument("--labels", type=int, default=16,
                   help="labelled training cases for fine-tuning; fewer if the train split has fewer "
                   "(default: %(default)s)")
    p.add_argument("--finetune-steps", type=int, default=500,
                   help="fine-tuning steps (default: %(default)s)")
    p.add_argument("--finetune-seconds", type=float, default=None,
                   help="optional wall-clock cap of fine-tuning, in seconds; a run it stops early is "
                   "flagged as not comparable (default: no cap)")
    p.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo pipeline; print a summary and write ``OUT/summary.json`` last.

    Raises:
        ConfigError: a numeric option out of range or not finite (before any work).
        InputError: OUT cannot be written (before any work).
    """
    _check_options(args)
    out: Path = args.out
    pretrain_config, finetune_config = _configs(out, args)  # every bad setting is refused up front
    _prepare_out(out)
    t0 = time.perf_counter()
    progress = not args.no_progress
    timings: dict[str, float] = {}
    stage = "[1/4] phantom"
    try:
        print("maerad demo — synthetic pelvic-MRI phantom; results are not clinical validation\n")
        t = time.perf_counter()
        splits = _phantom(out, args, progress)
        timings["phantom_s"] = time.perf_counter() - t

        stage = "[2/4] MAE pre-training"
        t = time.perf_counter()
        pretrain_summary = _pretrain(pretrain_config, args, progress)
        timings["pretrain_s"] = time.perf_counter() - t

        stage = "[3/4] fine-tuning"
        t = time.perf_counter()
        finetune_summary, generator = _finetune(finetune_config, args, progress)
        timings["finetune_s"] = time.perf_counter() - t

        stage = "[4/4] evaluation"
        t = time.perf_counter()
        evaluation = _evaluate(out, generator, splits["test"], progress)
        timings["evaluate_s"] = time.perf_counter() - t
    except KeyboardInterrupt:
        print(f"maerad demo interrupted during {stage}: {out}/ holds an incomplete run (no summary.json); "
              "the demo cannot resume, run `maerad demo` again to start afresh", file=sys.stderr)
        raise

    summary = {
        "synthetic_data": True,
        "note": "Synthetic phantom data generated by maerad; not clinical validation.",
        "seed": args.seed,
        "splits": {name: str(path) for name, path in splits.items()},
        "preview": str(out / "preview.png"),
        "pretrain": pretrain_summary,
        "finetune": finetune_summary,
        "evaluation": evaluation,
        "seconds": {k: round(v, 1) for k, v in {**timings, "total_s": time.perf_counter() - t0}.items()},
    }
    if finetune_summary.get("warning"):
        summary["warning"] = finetune_summary["warning"]
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(f"\nall outputs in {out}/ ({summary['seconds']['total_s']} s); summary: {out / 'summary.json'}")
    if finetune_summary.get("warning"):
        print(f"WARNING: {finetune_summary['warning']}")
    return 0


def _check_options(args: argparse.Namespace) -> None:
    """Refuse out-of-range and non-finite numbers before any work (``nan < 1`` is False)."""
    for name in ("n_train", "n_val", "n_test", "pretrain_steps", "labels", "finetune_steps"):
        value = getattr(args, name)
        if value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.seed < 0:
        raise ConfigError(f"--seed must be at least 0, got {args.seed}")
    cap = args.finetune_seconds
    if cap is not None and not (math.isfinite(cap) and cap > 0):
        raise ConfigError(f"--finetune-seconds must be a finite number of seconds > 0, got {cap}")


def _configs(out: Path, args: argparse.Namespace) -> tuple[Any, Any]:
    """The pre-training and fine-tuning configs, validated before the phantom is generated."""
    from maerad.train.config import PretrainConfig, validate_config
    from maerad.train.finetune import FinetuneConfig

    pretrain = validate_config(PretrainConfig, {
        "data": str(out / "phantom" / "train"), "out": str(out / "pretrain"),
        "sequences": ["t2w", "dwi_b800", "adc", "t1c"], "model": "mae_vit_tiny", "model_kwargs": DEMO_MODEL,
        "patch_size": [4, 16, 16], "masking": "random", "max_steps": args.pretrain_steps,
        "batch_size": min(4, args.n_train), "lr": 1.5e-3, "warmup_steps": max(1, args.pretrain_steps // 10),
        "seed": args.seed, "image_every": max(1, args.pretrain_steps // 2), "log_every": 10,
        "val_data": str(out / "phantom" / "val"), "val_every": max(1, args.pretrain_steps // 4),
    }, "pre-training config")
    finetune = validate_config(FinetuneConfig, {
        "data": str(out / "phantom"), "out": str(out / "finetune"),
        "pretrained": str(out / "pretrain" / "checkpoint"), "labels": args.labels, "split": "train",
        "max_steps": args.finetune_steps, "batch_size": 4, "lr": 1e-3, "layer_decay": 0.75, "seed": args.seed,
        "num_threads": 1, "time_budget_s": args.finetune_seconds,
    }, "fine-tuning config")
    return pretrain, finetune


def _prepare_out(out: Path) -> None:
    """Make sure OUT can be written, then delete the demo's own earlier outputs there.

    Raises:
        InputError: a part of OUT's path is a file, OUT cannot be created or written (read-only file
            system, permissions), or one of the demo's output folder names in OUT holds something else.
    """
    reason = unwritable_reason(out, folder=True)
    if reason is not None:
        raise InputError(f"{out}: cannot write the demo's outputs there ({reason})")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".maerad-demo-probe-")  # a folder can exist read-only
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"{out}: cannot write ({exc.strerror or exc})") from None
    for name in OUTPUT_FOLDERS:
        path = out / name
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise InputError(f"{path}: expected the demo's {name}/ folder, found a file; move it or choose "
                             "another --out")
        if path.is_dir() and not _is_demo_folder(path, name):
            raise InputError(f"{path} does not look like an earlier demo's output and would be replaced; "
                             "move it or choose another --out")
    try:
        for name in OUTPUT_FOLDERS:
            if (out / name).is_dir():
                shutil.rmtree(out / name)
        for name in OUTPUT_FILES:
            (out / name).unlink(missing_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot delete the previous demo outputs ({exc.strerror or exc})") from None


def _is_demo_folder(path: Path, name: str) -> bool:
    """Whether ``path`` (OUT/phantom, OUT/pretrain or OUT/finetune) looks like the demo's own: the
    demo deletes it, so a folder of the user's that happens to have the name must survive."""
    entries = [p for p in path.iterdir() if not p.name.startswith(".")]  # atomic writes' leftovers
    if not entries:
        return True
    if name == "phantom":
        return all(p.name in _SPLITS and p.is_dir() for p in entries)
    return (path / "config.json").is_file()


def _phantom(out: Path, args: argparse.Namespace, progress: bool) -> dict[str, Path]:
    from maerad.data.phantom import PhantomCase, preview_figure, write_phantom_dataset

    splits = {"train": args.n_train, "val": args.n_val, "test": args.n_test}
    print(f"[1/4] phantom: {args.n_train} train / {args.n_val} val / {args.n_test} test cases "
          "(val: pre-training's held-out loss only)")
    kept: list[PhantomCase] = []
    paths: dict[str, Path] = {}
    def keep_for_preview(i: int, case: PhantomCase) -> None:
        if i < 4:
            kept.append(case)

    for offset, (name, n) in enumerate(splits.items()):
        # disjoint seeds per split: no test case is a copy of a training case
        paths[name] = out / "phantom" / name
        write_phantom_dataset(paths[name], n, kind="mixed", seed=args.seed * 1000 + offset, progress=progress,
                              on_case=keep_for_preview if name == "test" else None)
    with atomic_path(out / "preview.png") as tmp:
        preview_figure(kept).savefig(tmp)
    index = json.loads((paths["test"] / "index.json").read_text(encoding="utf-8"))
    print(f"\n  test split ground truth (from the rule engines):\n  {'case':<11}{'kind':<14}target")
    for row in index["cases"]:
        print(f"  {row['case']:<11}{row['kind']:<14}{row.get('target_label') or '-'}")
    print(f"  preview montage (first test cases): {out / 'preview.png'}")
    return paths


def _pretrain(config: Any, args: argparse.Namespace, progress: bool) -> dict[str, Any]:
    from maerad.train.pretrain import pretrain

    print(f"\n[2/4] MAE pre-training: tiny 3D ViT, patch (4, 16, 16), random masking 75 %, "
          f"{args.pretrain_steps} steps on the train split")
    # a rerun starts afresh; on Ctrl-C, say there is no --resume here
    result = pretrain(config, overwrite=True, progress=progress, log=print, stop_hint=_STOP_HINT)
    first, last = result.losses[0], result.losses[-1]
    print(f"  loss {first:.3f} → {last:.3f} in {result.steps} steps "
          f"({result.samples_per_second:.3g} volumes/s)")
    held_out = ", ".join(f"{loss:.3f} (step {step})" for step, loss in result.val_losses)
    print(f"  held-out loss on the val split (fixed masks): {held_out}")
    print(f"  reconstructions (a train and a val study): {', '.join(str(p) for p in result.figures)}")
    return {"checkpoint": str(result.checkpoint), "steps": result.steps, "first_loss": first,
            "final_loss": last, "held_out_losses": [{"step": s, "loss": v} for s, v in result.val_losses],
            "figures": [str(p) for p in result.figures]}


def _finetune(config: Any, args: argparse.Namespace, progress: bool) -> tuple[dict[str, Any], Any]:
    from maerad.train.finetune import finetune

    cap = f" (wall-clock cap {args.finetune_seconds:g} s)" if args.finetune_seconds is not None else ""
    print(f"\n[3/4] report generator: pointer decoder on the pre-trained encoder, first {args.labels} "
          f"labelled training cases, {args.finetune_steps} steps{cap}")
    result = finetune(config, progress=progress, log=print)
    print(f"  {result.steps} steps on {result.n_labelled} labelled cases ({', '.join(result.templates)}); "
          f"loss {result.losses[0]:.3f} → {result.losses[-1]:.3f}")
    summary: dict[str, Any] = {
        "checkpoint": str(result.checkpoint), "steps": result.steps, "planned_steps": args.finetune_steps,
        "time_cap_s": args.finetune_seconds, "n_labelled": result.n_labelled, "templates": result.templates,
        "stopped_early": result.stopped_early, "first_loss": result.losses[0],
        "final_loss": result.losses[-1]}
    if result.stopped_early:
        summary["warning"] = (f"fine-tuning was stopped by --finetune-seconds {args.finetune_seconds:g} "
                              f"after {result.steps} of {args.finetune_steps} planned steps: the results "
                              "depend on this machine's speed and are not comparable with a full run")
        print(f"  WARNING: {summary['warning']}")
    return summary, result.generator


def _evaluate(out: Path, generator: Any, test_dir: Path, progress: bool) -> dict[str, Any]:
    from maerad.cli.evaluate import evaluate_checkpoint
    from maerad.report.render_text import render_text

    print("\n[4/4] evaluation on the held-out test split (synthetic data, not clinical validation)")
    result = evaluate_checkpoint(None, out / "phantom", split="test", out=out / "metrics.json",
                                 generator=generator, threads=1, progress=progress, n_bootstrap=500)
    print(result.table)
    example = _example(generator, test_dir)
    generation = generator.generate_detailed(example["folder"], threads=1)
    model = _model_output(generation)
    example.update(model)
    for lang in ("en", "zh"):
        text = _example_header(example, generator.graph, lang) + "\n\n" + render_text(generation.report, lang)
        write_text_atomic(out / f"example_report_{lang}.txt", text + "\n")
    print("\n  example report, English:\n")
    body = _example_header(example, generator.graph, "en") + "\n\n" + render_text(generation.report, "en")
    print("    " + body.replace("\n", "\n    "))
    figure = result.figure or "none (no cervical test case)"
    print(f"\n  metrics: {out / 'metrics.json'}; confusion matrix: {figure}; "
          f"reports: {out / 'example_report_en.txt'}, {out / 'example_report_zh.txt'}")
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))  # JSON form of the metrics
    return {"metrics": str(out / "metrics.json"), "stage_accuracy": metrics.get("stage_accuracy"),
            "n_test": metrics.get("n_test"), "accuracies": _accuracies(metrics),
            "confusion_matrix": str(result.figure) if result.figure else None,
            "example": {**example, "folder": str(example["folder"])},
            "example_reports": [str(out / "example_report_en.txt"), str(out / "example_report_zh.txt")]}


# the accuracies of metrics.json, what each covers and its unit of n
_ACCURACIES = {
    "stage_accuracy": "FIGO 2018 stage, cervical test cases",
    "figo2009_stage_accuracy": "FIGO 2009 stage, endometrial test cases",
    "orads_score_accuracy": "O-RADS MRI score, adnexal test cases and normal controls",
    "template_accuracy": "report template, the evaluated test cases (n_test)",
    "key_field_accuracy": "mandatory categorical fields, (case, field) pairs",
}


def _accuracies(metrics: dict[str, Any]) -> dict[str, Any]:
    """Every accuracy with its n and 95 % CI, so that no rate is read without its denominator."""
    intervals = metrics.get("confidence_intervals", {})
    found: dict[str, Any] = {}
    for name, covers in _ACCURACIES.items():
        value = metrics.get(name)
        ci = intervals.get(name, {})
        n = metrics.get("n_key_field_pairs") if name == "key_field_accuracy" else ci.get("n")
        found[name] = {"value": value, "n": n if value is not None else 0, "covers": covers,
                       "ci95": [ci.get("low"), ci.get("high")] if ci else None,
                       "ci_method": ci.get("method")}
        if name == "key_field_accuracy":
            found[name]["n_cases"] = metrics.get("n_key_field_cases")
        elif "successes" in ci:
            found[name]["correct"] = ci["successes"]
    return found


def _example(generator: Any, test_dir: Path) -> dict[str, Any]:
    """The example case and its ground truth: the first cervical test case the generator has a
    template for, else the first case it has a template for, else the first case."""
    from maerad.report.generation.cases import labelled_cases

    index = json.loads((test_dir / "index.json").read_text(encoding="utf-8"))
    rows = list(index["cases"])
    written = {t.id for t in generator.templates}
    truths = {c.folder.name: c.targets for c in labelled_cases([test_dir / str(r["case"]) for r in rows],
                                                                graph=generator.graph)}

    def reportable(row: dict[str, Any]) -> bool:
        t = truths.get(str(row["case"]))
        return t is not None and t.template in written

    chosen = (next((r for r in rows if r["kind"] == "cervical" and reportable(r)), None)
              or next((r for r in rows if reportable(r)), None) or rows[0])
    name = str(chosen["case"])
    truth = truths.get(name)
    return {"folder": test_dir / name, "case": f"{test_dir.name}/{name}", "kind": str(chosen["kind"]),
            "true_label": chosen.get("target_label") or "-",
            "true_template": truth.template if truth is not None else None,
            "true_headline": truth.headline if truth is not None else None}


def _model_output(generation: Any) -> dict[str, Any]:
    return {"model_template": str(generation.template).split("@")[0],
            "model_headline": generation.rule_headline}


def _term(graph: Any, cid: str | None, lang: str) -> str:
    if cid is None:
        return "-"
    return str(graph.preferred(cid, lang) or graph.preferred(cid) or cid)


_KINDS_ZH = {"cervical": "宫颈癌", "endometrial": "子宫内膜癌", "adnexal": "附件肿块", "pelvic_floor": "盆底",
             "normal": "正常"}


def _example_header(example: dict[str, Any], graph: Any, lang: str) -> str:
    """Who the example report is about, what the truth is and what the model wrote (D2 of the review:
    a bare generated report reads like a real clinical one)."""
    same_template = example["model_template"] == example["true_template"]
    predicted = example["model_headline"]
    same_value = predicted is not None and predicted == example["true_headline"]
    truth, model = (_term(graph, example[k], lang) for k in ("true_headline", "model_headline"))
    if lang == "zh":
        template_note = "与真实模板一致" if same_template else "与真实模板不同"
        value_note = "正确" if same_value else "与真实值不同"
        kind = _KINDS_ZH.get(example["kind"], example["kind"])
        return "\n".join([
            f"maerad 演示：合成体模病例 {example['case']}（非真实患者）。"
            "以下为模型生成的报告，不可用于临床。",
            f"真实标注（体模元数据）：{kind}；模板 {example['true_template'] or '-'}；{truth}",
            f"模型输出：模板 {example['model_template']}（{template_note}）；{model}（{value_note}）",
        ])
    template_note = "matches the ground truth" if same_template else "differs from the ground-truth template"
    value_note = "correct" if same_value else "differs from the ground truth"
    return "\n".join([
        f"maerad demo: SYNTHETIC phantom case {example['case']} (no real patient). Model-generated report, "
        "not for clinical use.",
        f"Ground truth (phantom metadata): {example['kind']}; template {example['true_template'] or '-'}; "
        f"{truth}",
        f"Model output: template {example['model_template']} ({template_note}); {model} ({value_note})",
    ])
