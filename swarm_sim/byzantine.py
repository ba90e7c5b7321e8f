"""What Byzantine robots announce, by behaviour (Strobel et al. 2018, 2020, 2023).

Byzantine robots move and explore like the others but never update their state; what they
broadcast (or vote) is forged here. `jamming` robots announce nothing and instead drown the
messages of robots around them; `sybil` robots speak under several identities at once.
"""

from __future__ import annotations

import numpy as np


def gaussian(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Standard normal draws from two uniforms in (0, 1] (Box–Muller)."""
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def forge(behaviour: str, honest: np.ndarray, wrong: float, u1: np.ndarray, u2: np.ndarray,
          noise_sd: float, discrete: bool) -> tuple[np.ndarray, np.ndarray]:
    """Forged (value, claimed quality) for each Byzantine sender.

    `honest` is what the robot would say if honest (its opinion, or its own sensed share),
    `wrong` the wrong colour (discrete) or the extreme furthest from the truth (continuous).
    """
    ones = np.ones(honest.shape, dtype=np.float32)
    if behaviour in ("wrong", "sybil", "jamming"):
        value = ones * wrong
    elif behaviour == "black":
        value = ones
    elif behaviour == "white":
        value = ones * 0.0
    elif behaviour == "coin" or (behaviour == "uniform" and discrete):
        value = (u1 < 0.5).astype(np.float32)
    elif behaviour == "uniform":
        value = u1.astype(np.float32)
    elif behaviour == "gaussian":
        noisy = honest + noise_sd * gaussian(u1, u2)
        if discrete:
            return honest.astype(np.float32), np.clip(noisy - honest + 0.5, 0, 1).astype(
                np.float32)
        value = np.clip(noisy, 0.0, 1.0).astype(np.float32)
    else:
        raise ValueError(f"unknown behaviour {behaviour!r}")
    return value, ones


def identities(behaviour: str, sybil_identities: int) -> int:
    """How many identities one Byzantine robot speaks under."""
    return sybil_identities if behaviour == "sybil" else 1
