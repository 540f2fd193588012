"""Benchmark: Normalizer throughput on the bundled ontology, side by side with plain rapidfuzz.

Target (issue "Terminology"): ≥ 20,000 mentions/s in one process. The mention set is built from the
ontology itself (deterministic RNG): every term, case / spacing / full-width / comparison-sign
variants, negated terms and one- and two-character typos. The reference is what the issue warns
about: ``rapidfuzz.process.extractOne`` with its default processor over all terms; it is timed on
the same mentions and its cross-qualifier / negation errors are counted on the negation and
qualifier-swap mentions.

Every row is timed the same way: ``--warmup`` untimed rounds, then ``--rounds`` timed rounds in which
the rows run one after another in an order rotated each round (so load from other processes hits
every row alike). Each row reports the median wall-clock and the median CPU time of its rounds, both
from the same calls; the speed-up over the reference is the median over rounds of the two times'
ratio in that round. Rows:

* ``normalize_many``: all mentions in one call, no cache (the target's figure);
* ``normalize``: one call per mention, no cache;
* ``cached stream``: ``--stream`` mentions drawn uniformly with replacement, by one seeded RNG, from
  the fixed vocabulary of all benchmark mentions (each mention recurs, as terms recur across reports),
  normalised in batches of 20 (one report's worth) by a ``Normalizer`` with its default cache, built
  afresh before each round;
* the rapidfuzz reference, one ``extractOne`` per mention.

Writes ``benchmarks/results/terms.json`` (``--out`` for another path), with the host.

Run::

    python benchmarks/bench_terms.py            # 5 timed rounds after 1 warm-up round
    python benchmarks/bench_terms.py --quick    # 3 rounds, a 20,000-mention stream
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process, utils

from host_meta import host_record, write_json
from maerad.terminology import Normalizer, load_bundled
from maerad.terminology.text import has_cjk

RESULTS = Path(__file__).resolve().parent / "results" / "terms.json"
FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
LETTERS = "abcdefghijklmnopqrstuvwxyz"
TARGET_PER_S = 20_000
STREAM_BATCH = 20  # mentions per normalize_many call in the cached stream: about one report's worth


def typo(text: str, rng: random.Random) -> str:
    """One random letter edit (substitution, deletion, insertion or transposition) outside digits."""
    spots = [i for i, ch in enumerate(text) if ch.isalpha() and ch.isascii()]
    if not spots:
        return text
    i = rng.choice(spots)
    op = rng.randrange(4)
    if op == 0:
        return text[:i] + rng.choice(LETTERS) + text[i + 1 :]
    if op == 1:
        return text[:i] + text[i + 1 :]
    if op == 2:
        return text[:i] + rng.choice(LETTERS) + text[i:]
    return text[:i] + text[i + 1 : i + 2] + text[i] + text[i + 2 :] if i + 1 < len(text) else text[:i]


def mention_set(seed: int = 0) -> tuple[list[str], list[tuple[str, set[str]]]]:
    """All benchmark mentions, and the guarded ones with the concepts they must not map to."""
    rng = random.Random(seed)
    graph = load_bundled()
    mentions: list[str] = []
    guarded: list[tuple[str, set[str]]] = []
    for concept in graph.concepts():
        for term in concept.terms:
            text = term.text
            mentions += [
                text,
                text.upper(),
                "".join(FULLWIDTH.get(c, c) for c in text),
                text.replace("≥", ">="),
            ]
            if not has_cjk(text) and len(text) >= 5:
                mentions += [typo(text, rng) for _ in range(4)] + [
                    typo(typo(text, rng), rng) for _ in range(4)
                ]
            if concept.exclusion_groups and not text.lower().startswith(("no ", "non-", "无")):
                negated = ("未见" if has_cjk(text) else "no ") + text
                mentions.append(negated)
                guarded.append((negated, {concept.id}))
    for text, forbidden in (
        ("superficial myometrial invasion (≥ 50 %)", {"MR:F062", "MR:F063"}),
        ("deep myometrial invasion (< 50 %)", {"MR:F062", "MR:F063"}),
        ("MI < 1/2", {"MR:F063"}),
        ("MI ≥ 1/2", {"MR:F062"}),
        ("upper vaginal involvement", {"MR:F032"}),
        ("lower vaginal involvement", {"MR:F031"}),
    ):
        guarded.append((text, forbidden))
    return list(dict.fromkeys(mentions)), guarded


def repeated_stream(vocabulary: Sequence[str], n: int, seed: int = 1) -> list[str]:
    """``n`` mentions drawn uniformly with replacement from a fixed ``vocabulary`` by one seeded RNG."""
    rng = random.Random(seed)  # one generator for the whole stream (a fresh one per draw repeats one mention)
    return rng.choices(vocabulary, k=n)


Timings = dict[str, dict[str, list[float]]]


def time_rounds(
    calls: Mapping[str, Callable[[], object]],
    rounds: int,
    warmup: int,
    setup: Mapping[str, Callable[[], object]] | None = None,
) -> Timings:
    """Wall-clock and CPU seconds (``"wall"``, ``"cpu"``) of every call in ``rounds`` rounds after
    ``warmup`` untimed ones. The calls of a round run one after another in an order rotated each round;
    ``setup[name]`` runs untimed just before ``name``'s call."""
    names = list(calls)
    times: Timings = {name: {"wall": [], "cpu": []} for name in names}
    for round_ in range(warmup + rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            if setup and name in setup:
                setup[name]()
            wall, cpu = time.perf_counter(), time.process_time()
            calls[name]()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if round_ >= warmup:
                times[name]["wall"].append(wall)
                times[name]["cpu"].append(cpu)
    return times


def rates(times: dict[str, list[float]], items: int) -> dict[str, float]:
    """A row's median wall-clock and CPU seconds over its rounds, and the items per second they give."""
    wall, cpu = statistics.median(times["wall"]), statistics.median(times["cpu"])
    return {"median_wall_s": wall, "median_cpu_s": cpu, "per_s": items / wall, "per_cpu_s": items / cpu}


def speedup(times: Timings, name: str, reference: str) -> dict[str, float]:
    """How many times faster ``name`` ran than ``reference`` on the same items: the median over rounds
    of the reference's time over ``name``'s in that round, wall clock and CPU time."""
    return {
        kind: statistics.median(
            ref / mine for ref, mine in zip(times[reference][kind], times[name][kind], strict=True)
        )
        for kind in ("wall", "cpu")
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5,
                        help="timed rounds of every row (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed rounds of every row before them (default: %(default)s)")
    parser.add_argument("--stream", type=int, default=100_000,
                        help="mentions in the cached stream (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="3 timed rounds and a 20,000-mention stream")
    parser.add_argument(
        "--sample", type=int, help="time only N of the mentions, evenly spaced (a smoke run: no verdict)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON result path (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.stream = 3, 20_000
    if args.rounds < 1 or args.warmup < 0 or args.stream < 1 or (args.sample is not None and args.sample < 1):
        parser.error("--rounds, --stream and --sample must be at least 1, --warmup at least 0")

    graph = load_bundled()
    vocabulary, guarded = mention_set()
    full = args.sample is None or args.sample >= len(vocabulary)
    mentions = vocabulary if full else vocabulary[:: len(vocabulary) // args.sample][: args.sample]
    started = time.perf_counter()
    fresh = Normalizer(graph, cache_size=0)
    build = time.perf_counter() - started
    stream = repeated_stream(mentions, args.stream)
    cached = [fresh]

    def new_cache() -> None:  # every round's stream starts with an empty cache
        cached[0] = Normalizer(graph)

    def run_stream() -> None:
        for i in range(0, len(stream), STREAM_BATCH):
            cached[0].normalize_many(stream[i : i + STREAM_BATCH])

    choices = [(t.text, c.id) for c in graph.concepts() for t in c.terms]
    texts = [t for t, _ in choices]

    def reference(m: str) -> str | None:
        hit = process.extractOne(
            m, texts, scorer=fuzz.WRatio, processor=utils.default_process, score_cutoff=80
        )
        return choices[hit[2]][1] if hit else None

    calls: dict[str, Callable[[], object]] = {
        "normalize_many": lambda: fresh.normalize_many(mentions),
        "normalize": lambda: [fresh.normalize(m) for m in mentions],
        "cached_stream": run_stream,
        "reference": lambda: [reference(m) for m in mentions],
    }
    times = time_rounds(calls, args.rounds, args.warmup, setup={"cached_stream": new_cache})
    items = {name: len(stream) if name == "cached_stream" else len(mentions) for name in calls}
    rows = {name: rates(times[name], items[name]) for name in calls}
    vs_reference = {name: speedup(times, name, "reference") for name in ("normalize_many", "normalize")}

    methods: dict[str, int] = {}
    for r in fresh.normalize_many(mentions):
        methods[r.method] = methods.get(r.method, 0) + 1
    ours_errors = sum(
        1
        for (m, bad), r in zip(guarded, fresh.normalize_many([m for m, _ in guarded]), strict=True)
        if r.concept in bad
    )
    ref_errors = sum(1 for m, bad in guarded if reference(m) in bad)
    many = rows["normalize_many"]
    result: dict[str, Any] = {
        "benchmark": "terms",
        "host": host_record(synthetic_data=True, packages=("rapidfuzz",)),
        "rounds": args.rounds,
        "warmup_rounds": args.warmup,
        "timing": "median over rounds; rows interleaved, order rotated each round; wall and CPU from the "
        "same calls",
        "mentions": len(mentions),
        "all_mentions": len(vocabulary),
        "stream": {
            "draws": len(stream),
            "distinct": len(set(stream)),
            "vocabulary": len(mentions),
            "seed": 1,
            "batch": STREAM_BATCH,
            "what": "uniform draws with replacement from the fixed vocabulary of benchmark mentions, "
            "normalised in batches by a Normalizer with its default cache, built afresh each round",
        },
        "build_seconds": build,
        "rows": rows,
        "speedup_vs_reference": vs_reference,
        "methods": methods,
        "guarded_mentions": len(guarded),
        "guard_errors": ours_errors,
        "reference_guard_errors": ref_errors,
        "target_per_s": TARGET_PER_S,
        # judged on normalize_many over the whole mention set only; a --sample run is a smoke run
        "passed_wall_clock": many["per_s"] >= TARGET_PER_S and ours_errors == 0 if full else None,
        "passed_cpu_time": many["per_cpu_s"] >= TARGET_PER_S and ours_errors == 0 if full else None,
    }
    labels = {
        "normalize_many": "maerad normalize_many (no cache)",
        "normalize": "maerad normalize, one call per mention",
        "cached_stream": "maerad, repeated stream with cache",
        "reference": "rapidfuzz extractOne (reference)",
    }
    errors = {"normalize_many": f"{ours_errors}/{len(guarded)}", "reference": f"{ref_errors}/{len(guarded)}"}
    print(f"{'normalizer':<40}{'median s':>10}{'per s':>10}{'per CPU s':>11}{'x ref':>7}  "
          "qualifier/negation errors")
    for name, row in rows.items():
        ratio = f"{vs_reference[name]['wall']:.1f}" if name in vs_reference else "-"
        print(f"{labels[name]:<40}{row['median_wall_s']:>10.3f}{row['per_s']:>10,.0f}"
              f"{row['per_cpu_s']:>11,.0f}{ratio:>7}  {errors.get(name, '')}")
    print(f"median of {args.rounds} interleaved rounds after {args.warmup} warm-up round(s); x ref = median "
          f"over rounds of the reference's time / the row's; {len(mentions):,} unique mentions decided by "
          f"{methods}")
    print(f"stream: {len(stream):,} draws (seed 1) from the {len(mentions):,} mentions, "
          f"{len(set(stream)):,} distinct, in batches of {STREAM_BATCH}, fresh cache each round")
    if full:
        print(f"target >= {TARGET_PER_S:,}/s with 0 guard errors, met (wall clock / CPU time): "
              f"{result['passed_wall_clock']} / {result['passed_cpu_time']}")
    else:
        print(f"smoke run on {len(mentions)} of {len(vocabulary):,} mentions: not a result, no verdict")
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
