"""A PNG-ready montage of a few phantom cases for a person to look at.

One row per case: axial ``t2w``, ``dwi_b800``, ``adc`` and ``t1c`` through the lesion (or the
cervix), and a sagittal ``t2w`` reformat (``t2w_strain`` is added for pelvic-floor cases), with
label outlines (uterus, bladder, rectum, lesion). Axial images are shown in radiological convention
(patient's right on the viewer's left, anterior up); sagittal images with anterior on the left.
Uses matplotlib's object API with the Agg canvas (no pyplot global state).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from maerad.data.phantom.generator import PhantomCase
from maerad.data.phantom.labels import LABELS, LESION_MIN
from maerad.errors import InputError

__all__ = ["preview_figure"]

F32 = npt.NDArray[np.float32]

_OUTLINES = (
    (
        "uterus",
        ("endometrium", "junctional_zone", "outer_myometrium", "cervical_stroma", "cervical_canal"),
        "#36c5f0",
    ),
    ("bladder", ("bladder_wall", "bladder_lumen"), "#f2c94c"),
    ("rectum", ("rectum_wall", "rectum_lumen"), "#f2994a"),
)


def _label_colours() -> npt.NDArray[np.float32]:
    """RGB per label value (0 … max): tissue groups in muted colours, lesions in red / magenta."""
    rgb = np.zeros((max(LABELS.values()) + 1, 3), dtype=np.float32)
    groups = {
        "fat": (0.35, 0.33, 0.25),
        "muscle": (0.55, 0.25, 0.2),
        "bone": (0.9, 0.88, 0.8),
        "vessel": (0.7, 0.1, 0.1),
        "bladder": (0.95, 0.85, 0.3),
        "rectum": (0.9, 0.55, 0.2),
        "bowel": (0.75, 0.6, 0.4),
        "vagina": (0.8, 0.5, 0.7),
        "endometrium": (0.6, 0.9, 1.0),
        "junctional": (0.1, 0.3, 0.6),
        "myometrium": (0.25, 0.55, 0.85),
        "cervical": (0.15, 0.45, 0.5),
        "ovary": (0.4, 0.75, 0.35),
        "follicle": (0.7, 0.95, 0.6),
        "node": (0.6, 0.4, 0.8),
        "ureter": (0.95, 0.95, 0.5),
        "urethra": (0.95, 0.85, 0.3),
        "fluid": (0.5, 0.7, 0.95),
    }
    for name, value in LABELS.items():
        for key, colour in groups.items():
            if key in name or (
                key == "muscle" and name in ("obturator_internus", "levator_ani", "piriformis", "iliopsoas")
            ):
                rgb[value] = colour
    for name, value in LABELS.items():
        if value >= LESION_MIN:
            rgb[value] = (1.0, 0.1, 0.6) if "node" in name else (1.0, 0.15, 0.1)
    return rgb


_LABEL_RGB = _label_colours()


def _window(img: F32, name: str) -> tuple[float, float]:
    if name == "adc":
        return 0.0, 3.0
    lo, hi = np.percentile(img, [1.0, 99.5])
    return float(lo), float(max(hi, lo + 1e-3))


def _slices(case: PhantomCase) -> tuple[int, int]:
    """Axial slice index and sagittal column: through the lesion centroid, else the cervix / landmarks."""
    st = case.study
    assert st.labels is not None
    lesion = st.labels >= LESION_MIN
    if lesion.any():
        counts = lesion.sum(axis=(1, 2))
        d = int(np.argmax(counts))
        w = round(float(np.argwhere(lesion[d])[:, 1].mean()))
        return d, w
    point = st.landmarks.get("internal_os") or st.landmarks.get("P")
    assert point is not None
    idx = st.world_to_voxel(point)
    d = int(np.clip(round(idx[0]), 0, st.shape[0] - 1))
    w = int(np.clip(round(st.world_to_voxel((0.0, point[1], point[2]))[2]), 0, st.shape[2] - 1))
    return d, w


def preview_figure(cases: Sequence[PhantomCase], *, max_cases: int = 4, dpi: int = 70) -> Figure:
    """A montage figure of up to ``max_cases`` cases (attach to an Agg canvas; save with ``savefig``).

    Raises:
        InputError: no cases given.

    Examples::

        >>> from maerad.data.phantom import PhantomConfig, generate_cases
        >>> small = PhantomConfig(size=(8, 32, 32), spacing=(12.0, 6.0, 6.0))
        >>> fig = preview_figure(list(generate_cases(2, kind="mixed", config=small)))
        >>> fig.savefig("preview.png")  # doctest: +SKIP
    """
    chosen = list(cases)[:max_cases]
    if not chosen:
        raise InputError("preview: no phantom cases to show")
    columns = ["t2w", "dwi_b800", "adc", "t1c", "t2w sagittal", "labels sagittal"]
    if any("t2w_strain" in c.study.sequences for c in chosen):
        columns.append("t2w_strain sagittal")
    fig = Figure(figsize=(2.3 * len(columns), 2.55 * len(chosen)), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(chosen), len(columns), squeeze=False)
    for row, case in enumerate(chosen):
        st = case.study
        assert st.labels is not None and st.spacing is not None
        d, w = _slices(case)
        aspect = st.spacing[0] / st.spacing[1]
        for col, name in enumerate(columns):
            ax = axes[row][col]
            ax.set_xticks([])
            ax.set_yticks([])
            seq = name.split()[0]
            if seq == "labels":
                ax.imshow(_LABEL_RGB[st.labels[:, :, w][::-1, ::-1]], aspect=aspect, interpolation="nearest")
                if row == 0:
                    ax.set_title(name, fontsize=8)
                continue
            if seq not in st.sequences:
                ax.axis("off")
                continue
            vol = st.sequences[seq]
            if name.endswith("sagittal"):
                img, lab, asp = vol[:, :, w][::-1, ::-1], st.labels[:, :, w][::-1, ::-1], aspect
            else:
                img, lab, asp = vol[d][::-1, ::-1], st.labels[d][::-1, ::-1], 1.0
            lo, hi = _window(vol, seq)
            ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, aspect=asp, interpolation="nearest")
            if seq != "t2w_strain":
                for _, names, colour in _OUTLINES:
                    mask = np.isin(lab, [LABELS[n] for n in names])
                    if mask.any() and not mask.all():
                        ax.contour(mask.astype(np.float32), levels=[0.5], colors=colour, linewidths=0.6)
                lesion = lab >= LESION_MIN
                if lesion.any() and not lesion.all():
                    ax.contour(lesion.astype(np.float32), levels=[0.5], colors="#eb5757", linewidths=0.9)
            if row == 0:
                ax.set_title(name, fontsize=8)
        axes[row][0].set_ylabel(f"{case.kind}\n{case.target_label}", fontsize=7)
    fig.suptitle("maerad synthetic pelvic phantom — synthetic data, not clinical images", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig
