"""``ReportGenerator``: a trained report generator — checkpoint I/O and ``generate(study)``.

Examples::

    >>> gen = ReportGenerator.from_checkpoint("maerad-finetune/checkpoint")     # doctest: +SKIP
    >>> report = gen.generate("phantom/case-0003")                               # doctest: +SKIP
    >>> print(render_text(report, "zh"))                                         # doctest: +SKIP

A generation encodes the study once, chooses the template (given, the only one the model knows, or
the template head's choice), decodes the fields with the pointer decoder under the template and
terminology masks (:mod:`.decoding`), lets the rule engines derive stage / score / grades and flags,
and compares the rule-derived headline (stage, score) with the direct stage head: a disagreement
becomes a ``note`` flag on the headline field (source ``stage-head``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from maerad.data.study import Study
from maerad.errors import CheckpointError, ConfigError
from maerad.report.generation.config import EncoderSpec, GeneratorConfig
from maerad.report.generation.decoding import beam_decode, greedy_decode
from maerad.report.generation.field_steps import FieldWalker
from maerad.report.generation.model import ReportModel
from maerad.report.generation.numeric_heads import NumericStats
from maerad.report.generation.scorer import ModelScorer
from maerad.report.generation.study_input import load_study_for_model, study_tensor
from maerad.report.generation.targets import headline_field
from maerad.report.generation.threads import single_thread, torch_threads
from maerad.report.structured_report import ReportFlag, StructuredReport
from maerad.report.templates import ReportTemplate, get_template, value_set_members
from maerad.terminology.graph import TermGraph
from maerad.train.precision import bf16_autocast

__all__ = ["CHECKPOINT_KIND", "Generation", "ReportGenerator"]

CHECKPOINT_KIND = "maerad-report-generator"


@dataclass(frozen=True)
class Generation:
    """A generated report with details of how it was made.

    Attributes:
        report: the checked report.
        template: the template key used.
        headline_field: the stage / score field (None when the template has none).
        rule_headline: its value derived by the rule engines from the generated fields.
        model_headline: the direct stage head's choice.
        log_prob: sum of the decoder's log-probabilities of the choices.
        leaves: finished reports checked by the search.
        valid: accepted by the engines without terminology flags.
        seconds: wall-clock time of the generation.
    """

    report: StructuredReport
    template: str
    headline_field: str | None
    rule_headline: str | None
    model_headline: str | None
    log_prob: float
    leaves: int
    valid: bool
    seconds: float


def _template_of(key: str) -> ReportTemplate:
    template_id, _, version = key.partition("@")
    return get_template(template_id, version or None)


class ReportGenerator:
    """A report generator: a :class:`ReportModel` with its configuration and terminology.

    Args:
        model: the network (built from ``config``).
        config: the generator configuration.
        graph: the terminology (default: bundled).
    """

    def __init__(self, model: ReportModel, config: GeneratorConfig,
                 graph: TermGraph | None = None) -> None:
        if graph is None:
            from maerad.terminology.bundled import load_bundled

            graph = load_bundled()
        self.model, self.config, self.graph = model, config, graph
        self.templates = [_template_of(k) for k in config.templates]
        self.stats = NumericStats.from_dict(config.numeric_stats)
        concept_index = {cid: i for i, cid in enumerate(config.concept_ids)}
        field_index = {k: i for i, k in enumerate(model.field_keys)}
        self.walkers = {t.key: FieldWalker(t, graph, concept_index, field_index, config.skip_fields)
                        for t in self.templates}

    # ------------------------------------------------------------------------------ construction
    @classmethod
    def build(cls, config: GeneratorConfig, graph: TermGraph | None = None) -> ReportGenerator:
        """A generator with freshly initialised weights (uses the global torch RNG)."""
        if graph is None:
            from maerad.terminology.bundled import load_bundled

            graph = load_bundled()
        missing = [c for c in config.concept_ids if c not in graph]
        if missing:
            raise ConfigError(f"concepts not in the terminology: {', '.join(missing[:5])}")
        templates = [_template_of(k) for k in config.templates]
        return cls(ReportModel(config, templates, graph), config, graph)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], *, device: str = "cpu") -> ReportGenerator:
        """Load a generator saved by :meth:`save` (``maerad finetune`` writes ``<out>/checkpoint``).

        Raises:
            CheckpointError: not a report-generator checkpoint, or weights that do not fit.
        """
        from maerad.train.checkpoint import load_checkpoint

        folder = Path(path)
        if not (folder / "state.json").is_file() and (folder / "checkpoint" / "state.json").is_file():
            folder = folder / "checkpoint"
        ckpt = load_checkpoint(folder, with_optimizer=False)
        if ckpt.extra.get("kind") != CHECKPOINT_KIND:
            raise CheckpointError(f"{folder}: a {ckpt.extra.get('kind')!r} checkpoint, expected a report "
                                  f"generator ({CHECKPOINT_KIND!r}, written by `maerad finetune`)")
        try:
            config = GeneratorConfig.model_validate(ckpt.config)
        except ValueError as exc:
            raise CheckpointError(f"{folder}/state.json: invalid generator config ({exc})") from None
        try:
            gen = cls.build(config)
        except ConfigError as exc:
            raise CheckpointError(f"{folder}: cannot rebuild the generator ({exc})") from None
        try:
            gen.model.load_state_dict(ckpt.model_state)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise CheckpointError(f"{folder}: weights do not fit the generator ({first})") from None
        gen.model.to(device).eval()
        return gen

    def save(self, folder: str | os.PathLike[str], *, step: int = 0,
             extra: dict[str, Any] | None = None) -> Path:
        """Write the generator atomically as safetensors + JSON (the config rebuilds it)."""
        from maerad.train.checkpoint import save_checkpoint

        return save_checkpoint(folder, self.model, step=step, config=self.config.model_dump(mode="json"),
                               extra={**(extra or {}), "kind": CHECKPOINT_KIND})

    # ------------------------------------------------------------------------------ inference
    @property
    def spec(self) -> EncoderSpec:
        """The image encoder's input specification (sequences, grid, normalisation)."""
        return self.config.encoder

    def study_input(self, study: Study | str | os.PathLike[str]) -> torch.Tensor:
        """``(1, C, D, H, W)`` input of a study or a path (study folder, NIfTI, DICOM)."""
        source = "study"
        if not isinstance(study, Study):
            source = str(study)
            study = load_study_for_model(study, self.spec)
        device = next(self.model.parameters()).device
        return study_tensor(study, self.spec, source=source).to(device)

    def _template(self, template: str | None, pooled: torch.Tensor) -> ReportTemplate:
        if template is not None:
            for t in self.templates:
                if template in (t.id, t.key):
                    return t
            raise ConfigError(f"template {template!r}: this generator writes "
                              f"{', '.join(t.key for t in self.templates)}")
        if len(self.templates) == 1:
            return self.templates[0]
        return self.templates[int(self.model.template_logits(pooled).argmax(dim=-1)[0])]

    def generate(self, study: Study | str | os.PathLike[str], *, template: str | None = None,
                 beam_size: int = 1, bf16: bool = False, threads: int | None = None) -> StructuredReport:
        """The structured report of ``study`` (see :meth:`generate_detailed`)."""
        return self.generate_detailed(study, template=template, beam_size=beam_size, bf16=bf16,
                                      threads=threads).report

    def generate_detailed(self, study: Study | str | os.PathLike[str], *, template: str | None = None,
                          beam_size: int = 1, bf16: bool = False, threads: int | None = None) -> Generation:
        """Generate a report and return it with the details (:class:`Generation`).

        Args:
            study: a :class:`Study`, or a path to a study folder, NIfTI file or DICOM series.
            template: template id (or ``id@version``); default: the model's choice.
            beam_size: 1 = greedy search with backtracking; more = beam search.
            bf16: run the image encoder under bfloat16 autocast.
            threads: torch intra-op threads during the generation (None: the current setting; the
                decoding itself always runs on one thread).

        Raises:
            InputError: unreadable study or missing sequences. ConfigError: a template the model
            does not write. FindingsError: no generated report could be checked (should not happen).
        """
        with torch_threads(threads), torch.no_grad():
            return self._generate(study, template, beam_size, bf16)

    def _generate(self, study: Study | str | os.PathLike[str], template: str | None, beam_size: int,
                  bf16: bool) -> Generation:
        t0 = time.perf_counter()
        self.model.eval()
        x = self.study_input(study)
        with bf16_autocast(bf16, x.device):
            tokens, pooled = self.model.encode(x)
            shares = self.model.segmenter_shares(x)
        tokens, pooled = tokens.float(), pooled.float()
        pooled = self.model.study_feature(tokens, pooled, tissue_shares=shares)
        with single_thread(x.device.type == "cpu"):
            chosen = self._template(template, pooled)
            walker = self.walkers[chosen.key]
            scorer = ModelScorer(self.model, tokens, pooled, self.stats)
            options = self.config.rule_options or None
            if beam_size > 1:
                result = beam_decode(walker, scorer, beam_size=beam_size, options=options,
                                     max_leaves=self.config.max_leaves)
            else:
                result = greedy_decode(walker, scorer, options=options, max_leaves=self.config.max_leaves)
            report = result.report
            head = headline_field(chosen)
            rule_value = report.value(head) if head is not None else None
            model_value = None
            if head is not None:
                members = list(value_set_members(chosen.field(head), self.graph))
                rows = [walker.concept_index[m] for m in members]
                model_value = members[int(self.model.headline_logits(pooled, rows).argmax(dim=-1)[0])]
                if self.config.stage_flag and rule_value is not None and model_value != rule_value:
                    flag = self._stage_flag(head, str(rule_value), model_value)
                    report = report.model_copy(update={"flags": (*report.flags, flag)})
        return Generation(report, chosen.key, head, str(rule_value) if rule_value is not None else None,
                          model_value, result.log_prob, result.leaves, result.valid,
                          time.perf_counter() - t0)

    def _stage_flag(self, field_id: str, rule_value: str, model_value: str) -> ReportFlag:
        def term(cid: str) -> str:
            return self.graph.preferred(cid) or cid

        return ReportFlag(kind="note", field=field_id, source="stage-head",
                          message=f"the model's direct stage head predicts {term(model_value)}; the rule "
                                  f"engines derive {term(rule_value)} from the generated findings")
