"""Generate synthetic pelvic MRI cases: :func:`generate_case`, :func:`generate_cases`.

Each case is deterministic given ``(seed, index)``: its random generator is seeded with
``SeedSequence([seed, index])``, so case *i* is the same whatever the number of cases generated.
This is synthetic data for software testing and method development, not clinical validation.

Examples::

    >>> from maerad.data.phantom import PhantomConfig, generate_case
    >>> case = generate_case("cervical", seed=0, stage="IIB", config=PhantomConfig(size=(12, 48, 48),
    ...                      spacing=(10.0, 4.0, 4.0)))
    >>> case.target, case.outputs["figo2018"].label
    ({'stage': 'IIB'}, 'IIB')
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from maerad.data.phantom.adnexal import ARCHETYPES, ORADS_TARGETS, adnexal_case
from maerad.data.phantom.anatomy import PelvicLandmarks, sample_anatomy
from maerad.data.phantom.canvas import Canvas
from maerad.data.phantom.cervical import CERVIX_TARGETS, cervical_case, normalise_cervix_stage
from maerad.data.phantom.config import CASE_KINDS, PhantomConfig
from maerad.data.phantom.context import CaseContext, KindOutput
from maerad.data.phantom.endometrial import ENDOMETRIUM_TARGETS, endometrial_case, normalise_endometrium_stage
from maerad.data.phantom.labels import label_names
from maerad.data.phantom.pelvic_floor import (
    PELVIC_FLOOR_GRADES,
    pelvic_floor_case,
    sample_pelvic_floor_targets,
)
from maerad.data.phantom.scene import build_scene
from maerad.data.phantom.signal import bias_field, render_sequences, render_t2w
from maerad.data.study import Study
from maerad.errors import ConfigError

__all__ = ["PHANTOM_VERSION", "PhantomCase", "generate_case", "generate_cases"]

PHANTOM_VERSION = "1.0"

# RAS+ mm at the grid centre per kind: pelvic-floor studies are centred lower (organs descend on strain)
_FOV_CENTRE = {"pelvic_floor": (0.0, 0.0, -40.0), "cervical": (0.0, 0.0, -4.0)}
_DEFAULT_CENTRE = (0.0, 0.0, -8.0)


@dataclass
class PhantomCase:
    """One generated case.

    Attributes:
        study: the :class:`~maerad.data.study.Study` (sequences ``t2w``, ``dwi_b800``, ``adc``, ``t1c``
            and ``t2w_strain`` for pelvic-floor cases; labels; landmarks; metadata).
        kind: ``cervical``, ``endometrial``, ``adnexal``, ``pelvic_floor`` or ``normal``.
        findings: the findings in the input model of the kind's rule engine (``None`` for ``normal``).
        outputs: rule-engine results by name (``figo2018``, ``figo2009``, ``figo2023``, ``esgo2020``,
            ``orads``, ``rmi``, ``pelvic_floor``).
        target: what the case was sampled for, e.g. ``{"stage": "IIB"}`` or ``{"score": 4}``.
        organ_labels: the label map before lesions were painted (same grid as ``study.labels``).
    """

    study: Study
    kind: str
    findings: BaseModel | None
    outputs: dict[str, BaseModel]
    target: dict[str, Any]
    organ_labels: npt.NDArray[np.int16] | None = None
    case_id: str = ""

    @property
    def target_label(self) -> str:
        """A short human-readable target, e.g. ``"FIGO 2018 IIB"`` or ``"O-RADS 4"``."""
        if self.kind == "cervical":
            return f"FIGO 2018 {self.target['stage']}"
        if self.kind == "endometrial":
            return f"FIGO 2009 {self.target['stage']}"
        if self.kind == "adnexal":
            return f"O-RADS {self.target['score']}"
        if self.kind == "pelvic_floor":
            g = self.target
            return f"POP A/M/P {g['anterior']}/{g['middle']}/{g['posterior']}"
        return "normal"


def _rng(seed: int, index: int) -> np.random.Generator:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"phantom seed must be a non-negative integer, got {seed!r}")
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or index < 0:
        raise ConfigError(f"phantom case index must be a non-negative integer, got {index!r}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(index)])))


def _choose_kind(kind: str, rng: np.random.Generator, config: PhantomConfig) -> str:
    if kind == "mixed":
        names = list(config.kind_weights)
        w = np.array([config.kind_weights[n] for n in names], dtype=np.float64)
        return str(names[int(rng.choice(len(names), p=w / w.sum()))])
    if kind not in CASE_KINDS:
        raise ConfigError(f"phantom kind must be one of {', '.join((*CASE_KINDS, 'mixed'))}, got {kind!r}")
    return kind


def _resolve_targets(kind: str, targets: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    allowed = {
        "cervical": {"stage"},
        "endometrial": {"stage"},
        "adnexal": {"score", "archetype"},
        "pelvic_floor": set(PELVIC_FLOOR_GRADES),
        "normal": set(),
    }[kind]
    unknown = sorted(set(targets) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown target(s) {', '.join(unknown)} for a {kind} case; allowed: "
            f"{', '.join(sorted(allowed)) or 'none'}"
        )
    if kind == "cervical":
        stage = targets.get("stage")
        return {
            "stage": normalise_cervix_stage(stage) if stage is not None else str(rng.choice(CERVIX_TARGETS))
        }
    if kind == "endometrial":
        stage = targets.get("stage")
        return {
            "stage": normalise_endometrium_stage(stage)
            if stage is not None
            else str(rng.choice(ENDOMETRIUM_TARGETS))
        }
    if kind == "adnexal":
        score = targets.get("score")
        archetype = targets.get("archetype")
        if archetype is not None:
            owner = next((k for k, names in ARCHETYPES.items() if archetype in names), None)
            if owner is None or (score is not None and score != owner):
                raise ConfigError(
                    f"adnexal target archetype {archetype!r} is not one of the score-{score or 'any'} "
                    f"archetypes: {', '.join(n for k, v in ARCHETYPES.items() for n in v)}"
                )
            score = owner
        if score is None:
            score = int(rng.choice(ORADS_TARGETS))
        if isinstance(score, bool) or score not in ORADS_TARGETS:
            raise ConfigError(
                f"adnexal target score must be one of {', '.join(map(str, ORADS_TARGETS))}, got {score!r}"
            )
        out: dict[str, Any] = {"score": int(score)}
        if archetype is not None:
            out["archetype"] = str(archetype)
        return out
    if kind == "pelvic_floor":
        return sample_pelvic_floor_targets(targets, rng)
    return {}


def generate_case(
    kind: str,
    seed: int,
    index: int = 0,
    config: PhantomConfig | None = None,
    **targets: Any,
) -> PhantomCase:
    """Generate one case.

    Args:
        kind: ``cervical``, ``endometrial``, ``adnexal``, ``pelvic_floor``, ``normal`` or ``mixed``.
        seed: base seed (non-negative integer).
        index: case index; the case depends only on ``(seed, index)``.
        config: phantom configuration (default :class:`PhantomConfig()`).
        **targets: ``stage=`` (cervical FIGO 2018 / endometrial FIGO 2009), ``score=`` (adnexal
            O-RADS 1–5) and optionally ``archetype=`` (one of ``adnexal.ARCHETYPES[score]``, e.g.
            ``"dermoid"``), ``anterior=`` / ``middle=`` / ``posterior=`` (pelvic floor: none, mild,
            moderate, severe) and ``rectocele=`` (small, moderate, large). Missing targets are drawn
            at random.

    Raises:
        ConfigError: unknown kind or target, bad seed.

    Examples::

        >>> small = PhantomConfig(size=(8, 32, 32), spacing=(12.0, 6.0, 6.0))
        >>> generate_case("adnexal", seed=3, score=4, config=small).outputs["orads"].score
        4
    """
    cfg = config if config is not None else PhantomConfig()
    if not isinstance(cfg, PhantomConfig):
        raise ConfigError(f"phantom config must be a PhantomConfig, got {type(cfg).__name__}")
    rng = _rng(seed, index)
    kind = _choose_kind(kind, rng, cfg)
    target = _resolve_targets(kind, dict(targets), rng)
    params = sample_anatomy(rng, kind, **_anatomy_constraints(kind, target))
    canvas = Canvas(
        cfg.size,
        cfg.spacing,
        _FOV_CENTRE.get(kind, _DEFAULT_CENTRE),
        cfg.supersample,
        rng,
        cfg.deformation_mm,
    )
    lm_anat = PelvicLandmarks(**{k: canvas.to_anatomy(v) for k, v in params.landmarks.__dict__.items()})
    ctx = CaseContext(params=params, lm=lm_anat, canvas=canvas, rng=rng, config=cfg)
    out = _run_kind(kind, ctx, target)
    texture = (1.0 + cfg.texture * canvas.n2).astype(np.float32)
    adc_texture = (1.0 + 0.5 * cfg.texture * canvas.n1).astype(np.float32)
    bias = bias_field(cfg.size, cfg.spacing, cfg.bias_strength, rng)
    sequences = render_sequences(canvas.tissue, texture, adc_texture, bias, cfg, rng)
    if out.strain_canvas is not None:
        sequences["t2w_strain"] = render_t2w(out.strain_canvas.tissue, texture, bias, cfg, rng)
    landmarks = _landmarks(out, canvas)
    case_id = f"s{seed}-i{index}"
    anatomy = params.summary()
    anatomy["vagina_length_mm"] = round(out.scene.organs.vagina_length, 2)
    anatomy["cervix_length_rendered_mm"] = round(out.scene.uterus.cervix_length, 2)
    metadata = _metadata(kind, seed, index, case_id, anatomy, out, cfg)
    study = Study(
        sequences=sequences,
        affine=canvas.affine,
        labels=canvas.output_labels(),
        label_names=label_names(),
        landmarks=landmarks,
        metadata=metadata,
    )
    return PhantomCase(
        study=study,
        kind=kind,
        findings=out.findings,
        outputs=out.outputs,
        target=out.target,
        organ_labels=out.organ_labels,
        case_id=case_id,
    )


def _anatomy_constraints(kind: str, target: dict[str, Any]) -> dict[str, Any]:
    if kind == "adnexal" and target.get("score") == 1:
        return {"postmenopausal": False}  # physiologic findings score 1 only before menopause (§3.2)
    return {}


def _run_kind(kind: str, ctx: CaseContext, target: dict[str, Any]) -> KindOutput:
    if kind == "cervical":
        return cervical_case(ctx, target["stage"])
    if kind == "endometrial":
        return endometrial_case(ctx, target["stage"])
    if kind == "adnexal":
        return adnexal_case(ctx, target["score"], archetype=target.get("archetype"))
    if kind == "pelvic_floor":
        return pelvic_floor_case(ctx, target)
    scene = build_scene(ctx.params, ctx.lm, ctx.rng)
    scene.paint(ctx.canvas)
    return KindOutput(
        scene=scene,
        findings=None,
        outputs={},
        target={},
        metadata={"nodes": [n.summary() for n in scene.nodes]},
        organ_labels=ctx.canvas.output_labels().copy(),
    )


def _landmarks(out: KindOutput, canvas: Canvas) -> dict[str, tuple[float, float, float]]:
    """Image-space landmarks: SPEC §4.1 symbols plus uterine and ovarian points (RAS+ mm)."""
    pts: dict[str, Any] = {k: canvas.to_image(v) for k, v in out.scene.lm.__dict__.items()}
    ut = out.scene.uterus
    pts["external_os"] = canvas.to_image(ut.external_os)
    pts["internal_os"] = canvas.to_image(ut.internal_os)
    pts["fundus"] = canvas.to_image(ut.fundus)
    for side, ovary in out.scene.organs.ovaries.items():
        pts[f"ovary_{side}"] = canvas.to_image(np.asarray(ovary.centre))
    out_pts = {
        k: (round(float(v[0]), 4), round(float(v[1]), 4), round(float(v[2]), 4)) for k, v in pts.items()
    }
    for k, v in out.strain_landmarks.items():
        out_pts[k] = (float(v[0]), float(v[1]), float(v[2]))
    if out.strain_landmarks:  # rest landmarks exactly as given to the rule engine
        for k in ("P", "C", "A", "ARJ_ant", "B", "Cx", "introitus"):
            v = getattr(out.scene.params.landmarks, k)
            out_pts[k] = (round(float(v[0]), 4), round(float(v[1]), 4), round(float(v[2]), 4))
    return out_pts


LANDMARK_DEFINITIONS = {
    "P": "inferior margin of the pubic symphysis (SPEC §4.1)",
    "C": "last coccygeal joint (SPEC §4.1)",
    "A": "posterior anorectal junction (SPEC §4.1)",
    "ARJ_ant": "anterior anorectal junction (SPEC §4.1)",
    "B": "bladder base, most posterior-inferior point (SPEC §4.1)",
    "Cx": "anterior lip of the cervix (SPEC §4.1)",
    "introitus": "vaginal introitus",
    "external_os": "external cervical os (centre)",
    "internal_os": "internal cervical os (centre)",
    "fundus": "uterine fundus (end of the uterine axis)",
    "ovary_left": "centre of the left ovary",
    "ovary_right": "centre of the right ovary",
}


def _metadata(
    kind: str,
    seed: int,
    index: int,
    case_id: str,
    anatomy: dict[str, Any],
    out: KindOutput,
    cfg: PhantomConfig,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "synthetic": True,
        "disclaimer": "synthetic phantom for software testing; not clinical data, not clinical validation",
        "phantom_version": PHANTOM_VERSION,
        "case_id": case_id,
        "kind": kind,
        "seed": int(seed),
        "index": int(index),
        "target": out.target,
        "anatomy": anatomy,
        "findings": out.findings.model_dump(mode="json") if out.findings is not None else None,
        "findings_model": type(out.findings).__name__ if out.findings is not None else None,
        "outputs": {k: v.model_dump(mode="json") for k, v in out.outputs.items()},
        "landmark_definitions": LANDMARK_DEFINITIONS,
        "config": cfg.to_dict(),
    }
    meta.update(out.metadata)
    return meta


def generate_cases(
    n: int,
    *,
    kind: str = "mixed",
    seed: int = 0,
    config: PhantomConfig | None = None,
) -> Iterator[PhantomCase]:
    """Yield cases ``0 … n−1`` of ``kind`` (each from ``SeedSequence([seed, i])``).

    Examples::

        >>> small = PhantomConfig(size=(8, 32, 32), spacing=(12.0, 6.0, 6.0))
        >>> [c.kind for c in generate_cases(2, kind="normal", seed=1, config=small)]
        ['normal', 'normal']
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ConfigError(f"number of phantom cases must be a non-negative integer, got {n!r}")
    if kind != "mixed" and kind not in CASE_KINDS:
        raise ConfigError(f"phantom kind must be one of {', '.join((*CASE_KINDS, 'mixed'))}, got {kind!r}")
    for i in range(int(n)):
        yield generate_case(kind, seed=seed, index=i, config=config)
