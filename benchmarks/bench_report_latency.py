"""Report-generation latency: one default-size 3D phantom study (24×128×128, 4 sequences) → report.

The generator is larger than the demo's: a ``mae_vit_tiny`` encoder (192 wide, ``--depth`` blocks, 12
by default; ``maerad demo`` uses 4 blocks 96 wide) on (4, 16, 16) patches — 6×8×8 = 384 tokens — and
the default heads (d_model 128, term embeddings 128 wide over 4096 hash buckets). Weights are random:
latency does not depend on training, except through the number of complete reports the search checks
(``leaves``, reported). For each template and precision (fp32, bf16 autocast of the encoder) the
benchmark runs ``--repeats`` timed generations after one warm-up and reports the median and minimum
wall-clock time of

* ``study``: ``generate(study)`` on the study already in memory (normalise, encode, decode, rules);
* ``folder``: ``generate(folder)`` including reading the four NIfTI files of the study folder;

and, from a separate loop, the median time of the encoder alone (``encoder_median_s``; the decoding
time is not measured on its own). Target: ≤ 1 s per study on this CPU; there is no reference
implementation. Every row is measured with PyTorch's default thread count and with one thread (on a
2-core machine shared with other work the default can be many times slower). Writes
``benchmarks/results/report_latency.json`` (``report_latency_segmenter.json`` with
``--tissue-segmenter``; ``--out`` for another path), with the host.

Usage::

    python benchmarks/bench_report_latency.py                 # full run
    python benchmarks/bench_report_latency.py --quick         # 2 repeats, cervix template only
    python benchmarks/bench_report_latency.py --tissue-segmenter   # with the voxel-level tissue segmenter
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from host_meta import host_record, write_json
from maerad.data.phantom import generate_case
from maerad.data.study_folder import save_study
from maerad.report.generation.config import EncoderSpec, GeneratorConfig
from maerad.report.generation.generator import ReportGenerator
from maerad.report.generation.segmenter import SegmenterSpec
from maerad.report.generation.threads import torch_threads
from maerad.report.generation.tissue import PHANTOM_TISSUE_GROUPS
from maerad.terminology.bundled import load_bundled
from maerad.train.precision import bf16_is_native

RESULTS = Path(__file__).resolve().parent / "results" / "report_latency.json"
SEQUENCES = ["t2w", "dwi_b800", "adc", "t1c"]
TEMPLATES = ["cervix-figo2018@1.0.0", "endometrium-figo2009@1.0.0", "adnexa-orads-mri@1.0.0",
             "pelvic-floor@1.0.0"]
KIND = {"cervix-figo2018@1.0.0": "cervical", "endometrium-figo2009@1.0.0": "endometrial",
        "adnexa-orads-mri@1.0.0": "adnexal", "pelvic-floor@1.0.0": "pelvic_floor"}
TARGET_S = 1.0


def build(depth: int, segmenter: bool = False) -> ReportGenerator:
    """The benchmark's generator (ViT-tiny, ``depth`` blocks) with random weights (seed 0); optionally
    with the default voxel-level tissue segmenter feeding the tissue summary (``--tissue-segmenter`` of
    ``maerad finetune``)."""
    spec = EncoderSpec(model="mae_vit_tiny", volume_shape=(24, 128, 128), patch_size=[4, 16, 16],
                       sequences=SEQUENCES, model_kwargs={"depth": depth})
    tissue: dict[str, Any] = {}
    if segmenter:
        tissue = {"tissue_groups": PHANTOM_TISSUE_GROUPS, "tissue_head": False,
                  "tissue_segmenter": SegmenterSpec(), "tissue_summary": True}
    config = GeneratorConfig(encoder=spec, templates=TEMPLATES, concept_ids=sorted(load_bundled()), **tissue)
    torch.manual_seed(0)
    return ReportGenerator.build(config)


def timed(fn: Any, repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def run(gen: ReportGenerator, repeats: int, templates: list[str],
        threads: int | None) -> list[dict[str, Any]]:
    """Benchmark rows, one per template and precision, with ``threads`` torch threads (None: default)."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for template in templates:
            study = generate_case(KIND[template], seed=0).study  # default PhantomConfig: 24×128×128
            folder = save_study(study, Path(tmp) / KIND[template], overwrite=True)
            for bf16 in (False, True):
                details: list[Any] = []
                options = {"template": template, "bf16": bf16, "threads": threads}

                def from_study(options: dict[str, Any] = options, details: list[Any] = details,
                               study: Any = study) -> None:
                    details.append(gen.generate_detailed(study, **options))

                def from_folder(options: dict[str, Any] = options, folder: Path = folder) -> None:
                    gen.generate(folder, **options)

                in_memory = timed(from_study, repeats)
                on_disk = timed(from_folder, repeats)
                rows.append({
                    "template": template, "precision": "bf16" if bf16 else "fp32",
                    "threads": threads or torch.get_num_threads(),
                    "study_median_s": statistics.median(in_memory), "study_min_s": min(in_memory),
                    "folder_median_s": statistics.median(on_disk), "folder_min_s": min(on_disk),
                    "leaves_median": statistics.median(d.leaves for d in details),
                    "valid": all(d.valid for d in details),
                    "meets_target": statistics.median(on_disk) <= TARGET_S,
                })
    return rows


def encode_split(gen: ReportGenerator, repeats: int, threads: int | None) -> dict[str, float]:
    """Median encoder-only time (fp32 and bf16) of one default-size study."""
    x = gen.study_input(generate_case("cervical", seed=0).study)
    out = {}
    for bf16 in (False, True):
        def encode(bf16: bool = bf16) -> None:
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                gen.model.encode(x)
        with torch_threads(threads):
            out["bf16" if bf16 else "fp32"] = statistics.median(timed(encode, repeats))
    return out


def output_path(out: Path | None, segmenter: bool) -> Path:
    """``--out``, else the default result file of the run (a separate one with the tissue segmenter)."""
    if out is not None:
        return out
    return RESULTS.with_name("report_latency_segmenter.json") if segmenter else RESULTS


def main(argv: list[str] | None = None) -> None:
    """Run, print the table and write the JSON result."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7,
                        help="timed generations per row, after one untimed warm-up (default: %(default)s)")
    parser.add_argument("--depth", type=int, default=12,
                        help="encoder blocks, 192 wide (default: %(default)s, as in mae_vit_tiny)")
    parser.add_argument("--quick", action="store_true", help="2 repeats, cervix template only")
    parser.add_argument("--tissue-segmenter", action="store_true",
                        help="the generator also runs the default voxel-level tissue segmenter")
    parser.add_argument("--out", type=Path, help="JSON result path (default: benchmarks/results/"
                        "report_latency.json, or report_latency_segmenter.json with --tissue-segmenter)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.depth < 1:
        parser.error("--repeats and --depth must be at least 1")
    repeats = 2 if args.quick else args.repeats
    templates = TEMPLATES[:1] if args.quick else TEMPLATES
    gen = build(args.depth, args.tissue_segmenter)
    settings: list[int | None] = [None, 1] if torch.get_num_threads() > 1 else [None]
    rows = [row for threads in settings for row in run(gen, repeats, templates, threads)]
    encoder = {str(t or torch.get_num_threads()): encode_split(gen, repeats, t) for t in settings}
    print(f"report generation latency, default 3D phantom study 24×128×128 × 4 sequences, "
          f"mae_vit_tiny depth {args.depth}{' + tissue segmenter' if args.tissue_segmenter else ''}, "
          f"median of {repeats} (load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores)")
    header = f"{'template':<28}{'prec':<6}{'thr':>4}{'study s':>9}{'folder s':>10}{'leaves':>8}"
    print(f"{header}  <= {TARGET_S:g} s")
    for r in rows:
        print(f"{r['template']:<28}{r['precision']:<6}{r['threads']:>4}{r['study_median_s']:>9.3f}"
              f"{r['folder_median_s']:>10.3f}{r['leaves_median']:>8g}  "
              f"{'yes' if r['meets_target'] else 'NO'}")
    for threads, times in encoder.items():
        print(f"encoder alone, {threads} thread(s): fp32 {times['fp32']:.3f} s, bf16 {times['bf16']:.3f} s")
    native = bf16_is_native("cpu")
    if not native:
        print(f"note: this CPU ({torch.backends.cpu.get_cpu_capability()}) has no native bfloat16 "
              "(AVX512-BF16 / AMX): the bf16 rows time PyTorch's emulation, slower than fp32")
    result = {
        "benchmark": "report_latency", "target_s": TARGET_S, "repeats": repeats, "depth": args.depth,
        "tissue_segmenter": args.tissue_segmenter,
        "host": host_record(synthetic_data=True),  # a phantom study, random weights
        "bf16_native": native, "encoder_median_s": encoder, "rows": rows,
    }
    out = output_path(args.out, args.tissue_segmenter)
    write_json(out, result)
    print(f"written {out}")


if __name__ == "__main__":
    main()
