"""Vision's exceptions, one family under the project's root error.

Each is also a ValueError (or RuntimeError for a capture device) so callers that catch
those keep working; front ends print any of them as one `error:` line.
"""

from __future__ import annotations

from gaka.errors import GakaError


class VisionError(GakaError):
    """Anything vision refuses; the message says why."""


class ImageError(VisionError, ValueError):
    """An input that is not a usable image; the message says why."""


class CaptureError(VisionError, RuntimeError):
    """A picture source that cannot be opened or read."""


class PlanError(VisionError, ValueError):
    """A stroke plan that does not follow the format; the message names the offending field."""


class MetricError(VisionError, ValueError):
    """Images that cannot be compared (shape, dtype or range mismatch)."""


class PainterError(VisionError, ValueError):
    """Bad painter input (target shape, stroke count, palette)."""


class PaletteError(VisionError, ValueError):
    """A palette specification that cannot be used."""
