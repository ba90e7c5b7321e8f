"""What Byzantine robots announce, by behaviour (Strobel et al. 2018, 2020, 2023).

Byzantine robots move and explore like the others but never update their state; what they
broadcast (or vote) is forged here. `jamming` robots announce nothing and instead drown the
messages of robots around them; `sybil` robots speak under several identities at once.
"""

from __future__ import annotations

import numpy as np

# Uniform draws a forged message takes, by behaviour: the others forge without randomness and
# skip the draws (each would cost a small swarm's tick more than the message).
DRAWS = {"coin": 1, "uniform": 1, "gaussian": 2}


def gaussian(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Standard normal draws from two uniforms in (0, 1] (Box–Muller)."""
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def forge(behaviour: str, size: int, honest: np.ndarray | None, wrong: float,
          u: list[np.ndarray], noise_sd: float, discrete: bool) -> tuple[np.ndarray, np.ndarray]:
    """Forged (value, claimed quality) for each of `size` Byzantine senders.

    `honest` is what the robots would say if honest (their opinions, or their own sensed
    shares; only "gaussian" needs it), `wrong` the wrong colour (discrete) or the extreme
    furthest from the truth (continuous), `u` the DRAWS[behaviour] uniforms per sender.
    """
    ones = np.ones(size, dtype=np.float32)
    if behaviour in ("wrong", "sybil", "jamming"):
        value = ones * wrong
    elif behaviour == "black":
        value = ones
    elif behaviour == "white":
        value = ones * 0.0
    elif behaviour == "coin" or (behaviour == "uniform" and discrete):
        value = (u[0] < 0.5).astype(np.float32)
    elif behaviour == "uniform":
        value = u[0].astype(np.float32)
    elif behaviour == "gaussian":
        if honest is None:
            raise ValueError("a gaussian liar forges from its honest values: pass them")
        noisy = honest + noise_sd * gaussian(u[0], u[1])
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
