"""The objects passed between the generator and the kind-specific modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from maerad.data.phantom.anatomy import AnatomyParams, PelvicLandmarks
from maerad.data.phantom.canvas import Canvas
from maerad.data.phantom.config import PhantomConfig
from maerad.data.phantom.scene import Scene

__all__ = ["CaseContext", "KindOutput"]

F64 = npt.NDArray[np.float64]


@dataclass
class CaseContext:
    """Everything a kind module needs: the sampled anatomy, landmarks in anatomy space, the canvas."""

    params: AnatomyParams
    lm: PelvicLandmarks  # anatomy space
    canvas: Canvas
    rng: np.random.Generator
    config: PhantomConfig


@dataclass
class KindOutput:
    """What a kind module returns after painting its scene (and lesions) on the canvas."""

    scene: Scene
    findings: BaseModel | None
    outputs: dict[str, BaseModel]
    target: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    organ_labels: npt.NDArray[np.int16] | None = None  # output-grid labels before lesions
    strain_canvas: Canvas | None = None
    strain_landmarks: dict[str, F64] = field(default_factory=dict)  # image space
