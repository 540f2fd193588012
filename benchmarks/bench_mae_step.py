"""MAE training-step benchmark: maerad vs Hugging Face ViTMAE vs MONAI MaskedAutoEncoderViT (CPU).

One step = forward + backward + AdamW, for

* ``2d``: ViT-B/16 encoder, MAE decoder (512 wide, 8 blocks), 224² RGB, batch 8, mask 0.75,
  norm-pix loss, fp32 — maerad, ``transformers.ViTMAEForPreTraining`` and MONAI
  ``MaskedAutoEncoderViT`` sized to match, MONAI both as built (hand-written attention) and with its
  ``SABlock``s switched to PyTorch's fused attention (``monai_sdpa``, as maerad and HF use); plus maerad
  under ``torch.autocast("cpu", bfloat16)`` for its speed-up over fp32 (left out on CPUs without native
  bfloat16, AVX512-BF16 or AMX, where PyTorch emulates it and the step is several times slower);
* ``2d-bf16``: maerad and HF, both under bf16 autocast (MONAI's model fails under autocast);
* ``3d``: the same ViT-B encoder and an 8-block decoder 384 wide (MONAI's 3D sin-cos table needs a
  width divisible by 6) on a 1-channel 32×128×128 volume with (4, 16, 16) patches (8×8×8 = 512
  tokens), batch 2 — maerad vs MONAI as built and with fused attention (HF's ViTMAE is 2D only).

Each implementation runs in its own worker subprocess (so peak RSS is per implementation) and the
controller interleaves the steps round-robin, rotating the order each round, so that load from other
processes on the machine hits every implementation alike. Reported: median / min / mean step time
after warm-up, the median CPU time of the worker process per step (all its threads; less sensitive
to waiting for a core, though spinning OpenMP threads still inflate it on a loaded machine), the
median system time and minor page faults per step (fresh pages the kernel zeroes when freed memory
went back to it: a cost that varies from step to step with the allocator, not with the model) and
peak RSS. The same AdamW (lr 1.5e-4, betas (0.9, 0.95), wd 0.05) is used for every model; by default
PyTorch's fused CPU kernel (``--adamw foreach`` or ``default`` picks the others). MONAI has no loss;
its step adds the norm-pix MSE over hidden tokens that maerad and HF compute (all three normalise
each patch over all its channels here, HF's rule; maerad's default per-channel rule costs the same).
Every worker steps on the same input.

After the timed steps each worker also counts the floating-point operations of one forward + backward
pass with ``torch.utils.flop_counter`` (matrix products and convolutions; PyTorch's fused CPU attention
kernel is not counted, so MONAI as built, whose attention is written out as matrix products, counts
its attention and the others do not). The FLOP ratio tells how much of a time ratio comes from doing
less work: at the same rate per FLOP the step-time ratio equals it. Peak RSS is read before that
pass, which runs the eager module even for the compiled workers.

Usage::

    python benchmarks/bench_mae_step.py                 # full run, writes benchmarks/results/mae_step.json
    python benchmarks/bench_mae_step.py --quick         # a smoke run (few steps)
    python benchmarks/bench_mae_step.py --steps 20 --cases 2d
    python benchmarks/bench_mae_step.py --cases 2d --compile   # + maerad and HF under torch.compile
    python benchmarks/bench_mae_step.py --cases 2d --impls maerad,hf

With ``--compile`` the compiled maerad step is compared with the fastest reference run either way
(compiled or eager), since compiling speeds up every implementation alike.

maerad is compared with the reference of the lowest median step: the median, best-step and CPU-time
ratios and the peak-RSS check are all against that one reference. Target: median ratio ≤ 0.97 and no
higher peak RSS; judged only with at least 8 timed steps (a ``--quick`` run is a smoke test, and its
verdict reads "inconclusive").
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from host_meta import cpu_model, host_record, write_json
from maerad.train.precision import bf16_is_native

RESULTS = Path(__file__).resolve().parent / "results" / "mae_step.json"
VIT_B = {"embed_dim": 768, "depth": 12, "num_heads": 12, "mlp_ratio": 4.0}
VIT_B_2D: dict[str, Any] = {  # 224² RGB, batch 8: the 2D setting of the original MAE
    "spatial_dims": 2,
    "in_chans": 3,
    "img_size": (224, 224),
    "patch_size": (16, 16),
    "batch": 8,
    "decoder_embed_dim": 512,
}
CASES: dict[str, dict[str, Any]] = {
    "2d": {
        **VIT_B_2D,
        "impls": ["maerad", "hf", "monai", "monai_sdpa", "maerad_bf16"],
        "compiled_impls": ["maerad_compile", "hf_compile"],  # with --compile
    },
    # the bf16-autocast comparison, in its own case (memory). MONAI 1.6's MaskedAutoEncoderViT cannot run
    # under bf16 autocast: its decoder writes bf16 tokens into a float32 buffer (index_put dtype error).
    "2d-bf16": {**VIT_B_2D, "impls": ["maerad_bf16", "hf_bf16"]},
    "3d": {
        "spatial_dims": 3,
        "in_chans": 1,
        "img_size": (32, 128, 128),
        "patch_size": (4, 16, 16),
        "batch": 2,
        "decoder_embed_dim": 384,  # MONAI's 3D sin-cos table needs a width divisible by 6
        "impls": ["maerad", "monai", "monai_sdpa"],
    },
}
MASK_RATIO = 0.75
TARGET_RATIO = 0.97  # maerad's median step over the fastest reference's
MIN_VERDICT_STEPS = 8  # fewer timed steps say nothing: single steps swing by 10 % and more here


# ------------------------------------------------------------------------------------------ workers
def _norm_pix_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True)
    target = (target - mean) / (var + 1e-6) ** 0.5
    loss = ((pred - target) ** 2).mean(dim=-1)
    return (loss * mask).sum() / mask.sum()


def _build(
    impl: str, case: dict[str, Any]
) -> tuple[torch.nn.Module, Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]]:
    """The model and a ``(model or its compiled wrapper, x) → loss`` function for one implementation."""
    num_tokens = 1
    for s, p in zip(case["img_size"], case["patch_size"], strict=True):
        num_tokens *= s // p
    impl = impl.removesuffix("_compile").removesuffix("_bf16")
    if impl == "monai_sdpa":
        # MONAI as built by default computes attention by hand (einsum + softmax); its SABlock can
        # use PyTorch's fused scaled_dot_product_attention instead, as maerad and HF do
        model, loss_fn = _build("monai", case)
        from monai.networks.blocks.selfattention import SABlock

        blocks = [m for m in model.modules() if isinstance(m, SABlock)]
        for block in blocks:
            block.use_flash_attention = True
        assert blocks
        return model, loss_fn
    if impl == "maerad":
        from maerad.models import create_model

        model = create_model(
            "mae_vit_base",
            spatial_dims=case["spatial_dims"],
            in_chans=case["in_chans"],
            img_size=case["img_size"],
            patch_size=case["patch_size"],
            mask_ratio=MASK_RATIO,
            norm_pix_loss=True,
            norm_pix_mode="joint",  # HF's and the MONAI step's loss, so the logged losses compare
            decoder_embed_dim=case["decoder_embed_dim"],
            decoder_depth=8,
            decoder_num_heads=16,
        )
        return model, lambda m, x: m(x).loss
    if impl == "hf":
        from transformers import ViTMAEConfig, ViTMAEForPreTraining

        config = ViTMAEConfig(
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            decoder_hidden_size=case["decoder_embed_dim"],
            decoder_num_hidden_layers=8,
            decoder_num_attention_heads=16,
            decoder_intermediate_size=4 * case["decoder_embed_dim"],
            image_size=case["img_size"][0],
            patch_size=case["patch_size"][0],
            num_channels=case["in_chans"],
            mask_ratio=MASK_RATIO,
            norm_pix_loss=True,
        )
        hf = ViTMAEForPreTraining(config)
        return hf, lambda m, x: m(pixel_values=x, noise=torch.rand(x.shape[0], num_tokens)).loss
    if impl == "monai":
        from monai.networks.nets import MaskedAutoEncoderViT

        mon = MaskedAutoEncoderViT(
            in_channels=case["in_chans"],
            img_size=case["img_size"],
            patch_size=case["patch_size"],
            hidden_size=768,
            mlp_dim=3072,
            num_layers=12,
            num_heads=12,
            masking_ratio=MASK_RATIO,
            decoder_hidden_size=case["decoder_embed_dim"],
            decoder_mlp_dim=4 * case["decoder_embed_dim"],
            decoder_num_layers=8,
            decoder_num_heads=16,
            spatial_dims=case["spatial_dims"],
            qkv_bias=True,
        )
        from maerad.models import patchify

        def monai_loss(m: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
            pred, mask = m(x)
            return _norm_pix_mse(pred, patchify(x, case["patch_size"]), mask)

        return mon, monai_loss
    raise SystemExit(f"unknown implementation {impl!r}")


def worker(impl: str, case_name: str, threads: int, adamw: str) -> None:
    """Serve steps over stdin/stdout: ``step`` → seconds, ``quit`` → peak RSS (MiB)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    case = CASES[case_name]
    model, loss_fn = _build(impl, case)
    model.train()
    # torch.compile (inductor) compiles on the first (warm-up) step; the module stays the same
    runner = torch.compile(model) if impl.endswith("_compile") else model
    params = [p for p in model.parameters() if p.requires_grad]
    variant = {"fused": {"fused": True}, "foreach": {"foreach": True}, "default": {}}[adamw]
    opt = torch.optim.AdamW(params, lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05, **variant)
    # the same input in every worker, whatever building the model drew from the global generator
    inputs = torch.Generator().manual_seed(1)
    x = torch.randn(case["batch"], case["in_chans"], *case["img_size"], generator=inputs)
    bf16 = impl.endswith("_bf16")
    n_params = sum(p.numel() for p in model.parameters())

    def forward_backward(module: torch.nn.Module) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(module, x)
        loss.backward()
        return loss

    print(json.dumps({"ready": True, "params": n_params}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "step":
            start, usage = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
            opt.zero_grad(set_to_none=True)
            loss = forward_backward(runner)
            opt.step()
            elapsed, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
            reply = {
                "seconds": elapsed,
                "cpu_seconds": after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime,
                "sys_seconds": after.ru_stime - usage.ru_stime,
                "page_faults": after.ru_minflt - usage.ru_minflt,  # fresh pages the kernel had to zero
                "loss": loss.item(),
            }
            print(json.dumps(reply), flush=True)
        elif command == "peak":
            # asked before the FLOP pass, which runs the eager module (more activations than a compiled one)
            print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}),
                  flush=True)
        elif command == "flops":
            # one extra forward + backward, after the timed steps; the eager module (inductor's
            # kernels hide their operations from the counter)
            opt.zero_grad(set_to_none=True)
            gflop: float | None = None
            try:
                with FlopCounterMode(display=False) as counter:
                    forward_backward(model)
                gflop = counter.get_total_flops() / 1e9
            except Exception as error:  # a count that fails must not lose the timed steps
                print(f"FLOP count failed: {error!r}", file=sys.stderr)
            opt.zero_grad(set_to_none=True)
            print(json.dumps({"gflop": gflop}), flush=True)
        elif command == "quit":
            return


# --------------------------------------------------------------------------------------- controller
class _Worker:
    def __init__(self, impl: str, case: str, threads: int, adamw: str) -> None:
        self.impl = impl
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (lives as long as the worker)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                impl,
                "--case",
                case,
                "--threads",
                str(threads),
                "--adamw",
                adamw,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.info = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            tail = self.log.read()[-2000:]
            raise RuntimeError(f"worker {self.impl} died (is its package installed?):\n{tail}")
        return dict(json.loads(line))

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()


def run_case(
    name: str,
    steps: int,
    warmup: int,
    threads: int,
    adamw: str,
    *,
    compiled: bool = False,
    only: list[str] | None = None,
    bf16_native: bool = True,
) -> dict[str, Any]:
    case = CASES[name]
    impls = list(case["impls"]) + (case.get("compiled_impls", []) if compiled else [])
    if only is not None:
        impls = only
    elif not bf16_native and any(not i.endswith("_bf16") for i in impls):
        # an emulated bf16 step takes many times the fp32 one and measures the emulation: left out of
        # a mixed case; a bf16-only case (2d-bf16) runs only when named, see main()
        impls = [i for i in impls if not i.endswith("_bf16")]
    workers = [_Worker(impl, name, threads, adamw) for impl in impls]
    times: dict[str, list[float]] = {w.impl: [] for w in workers}
    cpu_times: dict[str, list[float]] = {w.impl: [] for w in workers}
    sys_times: dict[str, list[float]] = {w.impl: [] for w in workers}
    faults: dict[str, list[int]] = {w.impl: [] for w in workers}
    for round_ in range(warmup + steps):
        shift = round_ % len(workers)
        for w in workers[shift:] + workers[:shift]:
            reply = w.ask("step")
            if round_ >= warmup:
                times[w.impl].append(float(reply["seconds"]))
                cpu_times[w.impl].append(float(reply["cpu_seconds"]))
                sys_times[w.impl].append(float(reply["sys_seconds"]))
                faults[w.impl].append(int(reply["page_faults"]))
    result: dict[str, Any] = {
        "config": {k: v for k, v in case.items() if not k.endswith("impls")},
        "impls": {},
    }
    for w in workers:
        peak = float(w.ask("peak")["peak_rss_mib"])
        counted = w.ask("flops")["gflop"]
        assert w.proc.stdin is not None
        w.proc.stdin.write("quit\n")
        w.proc.stdin.flush()
        w.proc.wait(timeout=60)
        ts = times[w.impl]
        result["impls"][w.impl] = {
            "median_s": statistics.median(ts),
            "min_s": min(ts),
            "mean_s": statistics.fmean(ts),
            "median_cpu_s": statistics.median(cpu_times[w.impl]),
            "steps_s": ts,
            "steps_cpu_s": cpu_times[w.impl],
            "median_sys_s": statistics.median(sys_times[w.impl]),
            "median_page_faults": statistics.median(faults[w.impl]),
            "steps_page_faults": faults[w.impl],
            "peak_rss_mib": peak,
            "params": int(w.info["params"]),
        }
        if counted is not None:  # forward + backward, see the module docstring
            result["impls"][w.impl]["gflop_per_step"] = float(counted)
            result["impls"][w.impl]["gflop_per_s_median"] = float(counted) / statistics.median(ts)
    impls = result["impls"]
    # each precision against its own kind: fp32 eager with fp32 eager, bf16 autocast with bf16 autocast
    eager_refs = [k for k in impls if not k.startswith("maerad") and not k.endswith(("_compile", "_bf16"))]
    if "maerad" in impls and eager_refs:
        result.update(_compare(impls, "maerad", eager_refs))
    bf16_refs = [k for k in impls if not k.startswith("maerad") and k.endswith("_bf16")]
    if "maerad_bf16" in impls and bf16_refs:
        result["bf16"] = _compare(impls, "maerad_bf16", bf16_refs)
    if "maerad_compile" in impls:
        # compiled maerad against every reference, compiled or not: the fastest way to run each
        refs = [k for k in impls if not k.startswith("maerad")]
        result["compiled"] = _compare(impls, "maerad_compile", refs)
    if "maerad_bf16" in impls and "maerad" in impls:
        result["bf16_speedup_median"] = impls["maerad"]["median_s"] / impls["maerad_bf16"]["median_s"]
        result["bf16_speedup_min"] = impls["maerad"]["min_s"] / impls["maerad_bf16"]["min_s"]
        result["bf16_speedup_cpu"] = impls["maerad"]["median_cpu_s"] / impls["maerad_bf16"]["median_cpu_s"]
    return result


def _compare(impls: dict[str, Any], mine: str, refs: list[str]) -> dict[str, Any]:
    """``mine`` against the fastest of ``refs`` by median step: every ratio and the RSS check are against
    that one reference. The target verdict needs ``MIN_VERDICT_STEPS`` timed steps of both."""
    fastest = min(refs, key=lambda k: impls[k]["median_s"])
    me, ref = impls[mine], impls[fastest]
    ratio = me["median_s"] / ref["median_s"]
    rss_not_higher = me["peak_rss_mib"] <= ref["peak_rss_mib"]
    steps = min(len(me["steps_s"]), len(ref["steps_s"]))
    # the documented criterion: median <= 0.97 x the fastest reference, and no higher peak RSS
    met = None if steps < MIN_VERDICT_STEPS else ratio <= TARGET_RATIO and rss_not_higher
    return {
        "fastest_reference": fastest,
        "maerad_over_fastest_median": ratio,
        "maerad_over_fastest_min": me["min_s"] / ref["min_s"],
        "maerad_over_fastest_cpu": me["median_cpu_s"] / ref["median_cpu_s"],
        "maerad_rss_not_higher": rss_not_higher,
        # the share of the time ratio that doing less work explains (None where FLOPs were not counted)
        "maerad_over_fastest_gflop": (me["gflop_per_step"] / ref["gflop_per_step"]
                                      if me.get("gflop_per_step") and ref.get("gflop_per_step") else None),
        "timed_steps": steps,
        "target_0_97_met": met,  # None: too few timed steps for a verdict
    }


def _verdict(summary: dict[str, Any]) -> str:
    met = summary["target_0_97_met"]
    if met is None:
        return (f"inconclusive: {summary['timed_steps']} timed steps (< {MIN_VERDICT_STEPS}), "
                "a smoke run, not a result")
    return "met" if met else "NOT met"


def _table(results: dict[str, Any]) -> str:
    header = f"{'case':<5} {'impl':<14} {'median s':>9} {'min s':>8} {'mean s':>8} {'med CPU s':>10}"
    lines = [f"{header} {'med sys s':>10} {'med faults':>11} {'peak RSS MiB':>13} {'params M':>9}"
             f" {'GFLOP':>7} {'GFLOP/s':>8}"]
    for case, res in results.items():
        for impl, r in res["impls"].items():
            work = (f" {r['gflop_per_step']:>7.1f} {r['gflop_per_s_median']:>8.1f}"
                    if "gflop_per_step" in r else "")
            lines.append(
                f"{case:<5} {impl:<14} {r['median_s']:>9.3f} {r['min_s']:>8.3f} {r['mean_s']:>8.3f} "
                f"{r['median_cpu_s']:>10.3f} {r['median_sys_s']:>10.3f} {r['median_page_faults']:>11.0f} "
                f"{r['peak_rss_mib']:>13.0f} {r['params'] / 1e6:>9.1f}{work}"
            )
        summaries = (
            ("maerad", res),
            ("maerad_compile", res.get("compiled", {})),
            ("maerad_bf16", res.get("bf16", {})),
        )
        for label, summary in summaries:
            if "maerad_over_fastest_median" in summary:
                gflop = summary.get("maerad_over_fastest_gflop")
                lines.append(
                    f"      {label} / fastest reference ({summary['fastest_reference']}), all against it: "
                    f"median {summary['maerad_over_fastest_median']:.3f}, "
                    f"min {summary['maerad_over_fastest_min']:.3f}, "
                    f"CPU-time median {summary['maerad_over_fastest_cpu']:.3f}; "
                    + (f"GFLOP {gflop:.3f}; " if gflop else "")
                    + f"peak RSS not higher: {summary['maerad_rss_not_higher']}; "
                    f"target (median <= {TARGET_RATIO}, RSS not higher): {_verdict(summary)}"
                )
        if "bf16_speedup_median" in res:
            lines.append(
                f"      maerad bf16 autocast speed-up: median {res['bf16_speedup_median']:.2f}x, "
                f"min {res['bf16_speedup_min']:.2f}x, CPU time {res['bf16_speedup_cpu']:.2f}x"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per implementation")
    parser.add_argument("--warmup", type=int, default=2, help="untimed warm-up steps")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 steps after 1 warm-up")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads in every worker")
    parser.add_argument("--cases", help="comma-separated subset of: 2d, 2d-bf16, 3d (default: all three; "
                        "2d and 3d on a CPU without native bfloat16)")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="2d case: also time maerad and HF ViTMAE under torch.compile (compiling takes minutes)",
    )
    parser.add_argument(
        "--impls", help="comma-separated implementations to time instead of the case's list (e.g. maerad,hf)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON result path")
    parser.add_argument(
        "--adamw",
        choices=["fused", "foreach", "default"],
        default="fused",
        help="AdamW implementation, the same for every model (default: fused, PyTorch's fastest on CPU)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.case, args.threads, args.adamw)
        return 0
    steps, warmup = (2, 1) if args.quick else (args.steps, args.warmup)
    native = bf16_is_native("cpu")
    if not native:
        print(f"note: this CPU ({cpu_model()}, {torch.backends.cpu.get_cpu_capability()}) has no native "
              "bfloat16 (AVX512-BF16 / AMX): bf16 rows are left out unless named (--cases 2d-bf16, "
              "--impls), and then time PyTorch's emulation, several times slower than fp32", file=sys.stderr)
    cases_arg = args.cases or ("2d,2d-bf16,3d" if native else "2d,3d")
    cases = [c.strip() for c in cases_arg.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {sorted(CASES)}")
    only = None if args.impls is None else [i.strip() for i in args.impls.split(",") if i.strip()]
    for impl in only or []:
        if impl.removesuffix("_compile").removesuffix("_bf16") not in ("maerad", "hf", "monai", "monai_sdpa"):
            parser.error(f"unknown implementation {impl!r}: maerad, hf, monai or monai_sdpa, optionally "
                         "+ _bf16 or _compile")
    for name in cases:  # HF's ViTMAE is 2D only
        if only and CASES[name]["spatial_dims"] == 3 and any(i.startswith("hf") for i in only):
            parser.error(f"case {name!r} is 3D; Hugging Face's ViTMAE (hf*) runs in the 2D cases only")
    results = {
        name: run_case(
            name,
            steps,
            warmup,
            args.threads,
            args.adamw,
            compiled=args.compile,
            only=only,
            bf16_native=native,
        )
        for name in cases
    }
    meta: dict[str, Any] = {
        # the input tensors are random noise: synthetic data
        **host_record(synthetic_data=True, packages=("transformers", "monai")),
        "bf16_native": native,
        "threads": args.threads,  # torch threads of every worker
        "adamw": args.adamw,
        "steps": steps,
        "warmup": warmup,
        "smoke_run": steps < MIN_VERDICT_STEPS,
    }
    print(_table(results))
    if steps < MIN_VERDICT_STEPS:
        print(f"smoke run: {steps} timed steps per implementation (< {MIN_VERDICT_STEPS}): not a result, "
              "no target verdict")
    write_json(args.out, {"meta": meta, "cases": results})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
