"""``maerad report generate``: write the structured report of one study with a trained generator.

The lead wires it into ``maerad report`` (``cli/report.py``: ``("generate", add_generate_parser)`` in
its action table). Examples::

    maerad report generate phantom/case-0003 --checkpoint ft/checkpoint --lang zh
    maerad report generate t2w.nii.gz --checkpoint ft-t2w/checkpoint --format fhir --output r.json
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["FORMATS", "add_generate_parser", "run_generate"]

FORMATS = ("text", "json", "fhir")


def add_generate_parser(report_subparsers: Any) -> None:
    """Register the ``generate`` action on the ``maerad report`` action sub-parsers."""
    p = report_subparsers.add_parser(
        "generate", help="generate the structured report of a study (folder, NIfTI or DICOM)",
        description="Encode the study, decode every template field under the template and terminology "
        "constraints, derive stage / score with the rule engines and print the report. Research tool, "
        "not clinical advice.")
    p.add_argument("study", metavar="STUDY", help="study folder, NIfTI file or DICOM series folder")
    p.add_argument("--checkpoint", required=True, help="report-generator checkpoint (maerad finetune)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="report language (default en)")
    p.add_argument("--format", choices=FORMATS, default="text", dest="fmt", help="output format")
    p.add_argument("--template", help="template id (default: the model's choice)")
    p.add_argument("--beam", type=int, default=1, help="beam size (1: greedy with backtracking)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the image encoder")
    p.add_argument("--threads", type=int, help="torch threads (1 is often fastest on a busy machine)")
    p.add_argument("--output", metavar="FILE", help="write to FILE (atomically) instead of standard output")
    p.set_defaults(report_handler=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    """Generate, render and print (or write) the report."""
    from maerad.atomic import write_text_atomic
    from maerad.errors import ConfigError
    from maerad.report.generation.generator import ReportGenerator
    from maerad.report.render_fhir import render_fhir
    from maerad.report.render_text import render_text
    from maerad.train.precision import bf16_slow_warning

    if args.beam < 1:
        raise ConfigError(f"--beam must be at least 1, got {args.beam}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}")
    generator = ReportGenerator.from_checkpoint(args.checkpoint)
    if warning := bf16_slow_warning(args.bf16, next(generator.model.parameters()).device):
        print(warning, file=sys.stderr)
    report = generator.generate(args.study, template=args.template, beam_size=args.beam, bf16=args.bf16,
                                threads=args.threads)
    if args.fmt == "text":
        text = render_text(report, args.lang)
    elif args.fmt == "json":
        text = report.to_json()
    else:
        text = json.dumps(render_fhir(report, lang=args.lang, graph=generator.graph), ensure_ascii=False,
                          indent=2)
    if args.output:
        write_text_atomic(args.output, text + "\n")
    else:
        print(text)
    return 0
