"""maerad: masked-autoencoder pre-training on pelvic MRI and structured radiology reports."""

from __future__ import annotations

from maerad.errors import MaeradError

__all__ = ["MaeradError", "__version__"]
__version__ = "0.1.0"
