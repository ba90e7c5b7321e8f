"""What the configured workcell can paint: the bridge from settings to `gaka paint`'s palette.

`gaka paint` plans for the arm that will paint: as many paints as its workcell has pots
(k-means of the image) unless the settings name the paints in the pots.
"""

from __future__ import annotations

from dataclasses import dataclass

from gaka.config import Settings
from robot.arm_model import load_arm


@dataclass(frozen=True)
class Workcell:
    """The configured arm's name, its pot count and the configured paints (None: k-means)."""

    arm: str
    pots: int
    paints: str | None


def configured_workcell(settings: Settings | None = None) -> Workcell:
    """The workcell named by the settings (`arm_config`, `paints`)."""
    settings = settings or Settings()
    arm = load_arm(settings.arm_config)
    return Workcell(arm.name, len(arm.workcell.pots_xy), settings.paints)
