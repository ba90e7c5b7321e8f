"""Tiled floors: a square arena of black and white tiles, with an exact black share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from swarm_sim.errors import SwarmError

Layout = Literal["random", "halves", "stripes"]
LAYOUTS: tuple[str, ...] = ("random", "halves", "stripes")


@dataclass(frozen=True)
class ArenaSpec:
    """Square arena of side `side_m` metres cut into tiles_per_side² tiles."""

    side_m: float = 2.0
    tiles_per_side: int = 20
    black_share: float = 0.34
    layout: Layout = "random"

    def __post_init__(self) -> None:
        if not self.side_m > 0:
            raise SwarmError(f"arena side must be positive, got {self.side_m} m")
        if self.tiles_per_side < 1:
            raise SwarmError(
                f"the arena is empty: tiles_per_side must be at least 1, got {self.tiles_per_side}"
            )
        if not 0.0 <= self.black_share <= 1.0:
            raise SwarmError(f"black share must lie in [0, 1], got {self.black_share}")
        if self.layout not in LAYOUTS:
            raise SwarmError(f"unknown layout {self.layout!r}; choose one of {', '.join(LAYOUTS)}")

    @property
    def tile_m(self) -> float:
        return self.side_m / self.tiles_per_side

    @property
    def tiles(self) -> int:
        return self.tiles_per_side**2

    @property
    def black_tiles(self) -> int:
        return round(self.black_share * self.tiles)

    @property
    def true_share(self) -> float:
        """The black share actually laid out (rounded to whole tiles)."""
        return self.black_tiles / self.tiles

    @property
    def majority_colour(self) -> int:
        """0 (white) or 1 (black): the colour covering more than half of the floor."""
        if 2 * self.black_tiles == self.tiles:
            raise SwarmError("the floor is exactly half black: there is no majority colour")
        return int(2 * self.black_tiles > self.tiles)


def _column_major_fill(order_of_columns: np.ndarray, t: int, k: int) -> np.ndarray:
    grid = np.zeros((t, t), dtype=bool)
    cells = np.stack(np.meshgrid(np.arange(t), order_of_columns, indexing="xy"), -1)
    flat = cells.reshape(-1, 2)[:k]  # (row, column) pairs, filling one column after another
    grid[flat[:, 0], flat[:, 1]] = True
    return grid


def lay_tiles(spec: ArenaSpec, rng: np.random.Generator) -> np.ndarray:
    """Boolean grid [row, column], True where black; exactly spec.black_tiles are black."""
    t, k = spec.tiles_per_side, spec.black_tiles
    if spec.layout == "random":
        flat = np.zeros(spec.tiles, dtype=bool)
        flat[rng.permutation(spec.tiles)[:k]] = True
        return flat.reshape(t, t)
    if spec.layout == "halves":
        return _column_major_fill(np.arange(t), t, k)
    # Stripes: black columns spread evenly (Bresenham), filled before the others.
    per_column = np.floor((np.arange(t) + 1) * spec.black_share) - np.floor(
        np.arange(t) * spec.black_share
    )
    order = np.concatenate([np.flatnonzero(per_column > 0), np.flatnonzero(per_column == 0)])
    return _column_major_fill(order, t, k)
