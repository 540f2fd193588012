"""The exceptions maerad raises for problems a user can fix.

Every user mistake (a bad file, a malformed findings JSON, an impossible configuration) raises a
subclass of :class:`MaeradError` whose message names the file or field and what was expected. The
``maerad`` command prints that message as one line on stderr and exits with status 2; programming
errors are left as ordinary Python exceptions so that they keep their tracebacks.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ConfigError",
    "FindingsError",
    "InputError",
    "MaeradError",
    "MissingDependencyError",
]


class MaeradError(Exception):
    """Base class of every error maerad raises for bad input or configuration."""


class InputError(MaeradError):
    """An input file or array is unreadable, corrupt or inconsistent (NIfTI, DICOM, study folder)."""


class FindingsError(MaeradError):
    """A findings object (JSON or mapping) has an unknown field or a value outside its allowed set."""


class ConfigError(MaeradError):
    """A configuration value or combination of options is invalid."""


class CheckpointError(MaeradError):
    """A checkpoint is missing, truncated or does not match the model it is loaded into."""


class MissingDependencyError(MaeradError):
    """An optional dependency (an extra such as ``dicom-codecs``) is needed but not installed."""
