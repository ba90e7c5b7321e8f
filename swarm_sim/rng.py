"""Counter-based random numbers: a pure function of (run seed, tick, robot, stream).

A run's randomness never depends on which other runs share its batch or which process runs it,
so a run simulated alone, in a batch, locally or on Ray gives bit-identical results.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1
# Shift counts as uint64 once, not on every call: uniform() runs several times a tick.
_S11, _S27, _S30, _S31 = (np.uint64(k) for k in (11, 27, 30, 31))
_FEW = 8


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64 arithmetic wraps, as intended), in place on `z`: callers
    pass a temporary, and the hot path runs it on every tick."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def run_seed(base_seed: int, run_index: int) -> int:
    """The seed of run `run_index` of an experiment seeded with `base_seed`."""
    z = np.array([(base_seed * 0x9E3779B97F4A7C15 + run_index) & _MASK64], dtype=np.uint64)
    return int(_mix(_mix(z))[0])


def _mix_int(z: int) -> int:
    """_mix on one Python int (the same bits)."""
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & _MASK64
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def uniform(seeds: np.ndarray, tick: int | np.ndarray, robots: np.ndarray,
            stream: int) -> np.ndarray:
    """Uniform floats in (0, 1], one per (seed, robot) pair, for this tick (or each robot's
    own tick) and stream."""
    if isinstance(tick, np.ndarray):
        # Array arithmetic wraps silently, as the Python ints below are masked to.
        key = (tick.astype(np.uint64) * np.uint64(0x100) + np.uint64(stream)) * _GOLDEN
    else:
        # The key wraps in Python ints: numpy warns on scalar overflow, and an errstate block
        # costs as much as the arithmetic on the few robots of a tick.
        k = ((tick * 0x100 + stream) & _MASK64) * int(_GOLDEN) & _MASK64
        if robots.size <= _FEW:
            # A few robots (a small swarm's tick): Python ints beat a dozen numpy calls.
            return np.array([
                ((_mix_int((_mix_int(int(sd) ^ k) + int(r) * 0x94D049BB133111EB) & _MASK64)
                  >> 11) + 1.0) * (1.0 / 9007199254740992.0)
                for sd, r in zip(seeds.tolist(), robots.tolist(), strict=True)],
                dtype=np.float64)
        key = np.uint64(k)
    z = _mix(seeds ^ key)
    r = robots.astype(np.uint64)
    r *= _M2
    z = _mix(z + r)
    u = (z >> _S11).astype(np.float64)
    u += 1.0
    u *= 1.0 / 9007199254740992.0
    return u


def exponential_ticks(u: np.ndarray, mean_ticks: np.ndarray | float) -> np.ndarray:
    """Exponential durations in whole ticks (at least one) from uniforms in (0, 1]."""
    return np.maximum(1, np.ceil(-np.log(u) * mean_ticks)).astype(np.int32)


def generator(seed: int, purpose: int) -> np.random.Generator:
    """A numpy generator for set-up draws of one run (positions, opinions, tiles)."""
    return np.random.default_rng([seed, purpose])
