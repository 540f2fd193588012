"""The bridge between a :class:`~.model.ReportModel` and the decoding search (:mod:`.decoding`).

:class:`ModelScorer` holds one study's projected image tokens and the option / field embeddings
(computed once), scores the options of a step with the decoder and advances the decoder state with
the chosen option. Numbers are de-standardised with the generator's per-field statistics. Use it
under ``torch.no_grad()``.
"""

from __future__ import annotations

import torch

from maerad.report.generation.field_steps import FieldStep, field_key
from maerad.report.generation.model import ReportModel, gather_options
from maerad.report.generation.numeric_heads import NumericStats
from maerad.report.generation.pointer_decoder import KINDS

__all__ = ["ModelScorer"]


class ModelScorer:
    """Scores steps for one study.

    Args:
        model: the network.
        tokens: ``(1, L, w)`` image tokens of the study; pooled: ``(1, w)``.
        stats: number statistics (standardisation of the regression head).
    """

    def __init__(self, model: ReportModel, tokens: torch.Tensor, pooled: torch.Tensor,
                 stats: NumericStats) -> None:
        self.model, self.stats = model, stats
        self.device = tokens.device
        self.vocab = model.vocabulary()
        self.fields = model.field_vectors()
        self.memory = model.decoder.memory(tokens)
        self.h0 = model.decoder.initial_state(pooled)

    def _inputs(self, step: FieldStep) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        width = max(len(o.parts) for o in step.options)
        parts = torch.full((1, len(step.options), width), -1, dtype=torch.long, device=self.device)
        for i, option in enumerate(step.options):
            parts[0, i, : len(option.parts)] = torch.tensor(option.parts, dtype=torch.long)
        options = gather_options(self.vocab, parts)
        field = self.fields[step.field_index].unsqueeze(0)
        kind = torch.tensor([KINDS.index(step.kind)], dtype=torch.long, device=self.device)
        return options, field, kind

    def initial(self) -> object:
        """The decoder state from the pooled study features."""
        return self.h0

    def score(self, state: object, step: FieldStep) -> tuple[list[float], float | None]:
        """Log-probabilities of the options (masked before the softmax) and the raw number."""
        assert isinstance(state, torch.Tensor)
        options, field, kind = self._inputs(step)
        mask = torch.tensor([step.mask], dtype=torch.bool, device=self.device)
        out = self.model.decoder.step(state, self.memory, field, kind, options, mask)
        number = None
        if step.kind == "number":
            key = field_key(step.template, step.field.id)
            number = self.stats.denormalise(key, float(out.number[0]), step.range)
        return [float(v) for v in out.log_probs[0]], number

    def advance(self, state: object, step: FieldStep, choice: int, number: float | None) -> object:
        """The decoder state after option ``choice`` (and ``number``, standardised again)."""
        assert isinstance(state, torch.Tensor)
        options, field, kind = self._inputs(step)
        z = 0.0
        if number is not None:
            z = self.stats.normalise(field_key(step.template, step.field.id), float(number), step.range)
        value = torch.tensor([z], dtype=torch.float32, device=self.device)
        has = torch.tensor([number is not None], device=self.device)
        return self.model.decoder.advance(state, field, kind, options[:, choice], value, has)
