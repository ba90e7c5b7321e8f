"""Vectorised robots of a batch of independent runs: motion, sensing, phases, neighbours.

Every array is flat over the batch (run-major: robot i of run r sits at r * n + i), so one
numpy operation advances all robots of all runs by one tick. Runs never see each other: their
spatial-hash cells are padded apart and their random numbers come from their own seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swarm_sim import rng
from swarm_sim.arena import ArenaSpec, lay_tiles
from swarm_sim.config import Scenario

EXPLORE, DISSEMINATE = 0, 1
# Below this many receiver × sender candidates, neighbours are found by comparing every pair.
BRUTE_FORCE_PAIRS = 4096
# Up to this many messages, deliver() pushes them one at a time.
FEW_MESSAGES = 6
# Random-number streams, so that draws for different purposes never coincide.
S_TURN, S_HEADING, S_EXPLORE, S_DISSEMINATE, S_CHOICE, S_BYZANTINE = range(6)


@dataclass
class Swarm:
    """State of runs × robots; the per-robot arrays all have length runs * robots."""

    runs: int
    n: int
    arena: ArenaSpec
    tiles: np.ndarray  # (runs * tiles,) bool, True = black
    run_of: np.ndarray
    local: np.ndarray
    seeds: np.ndarray  # each robot carries its run's seed (uint64)
    x: np.ndarray
    y: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    turn_in: np.ndarray
    phase: np.ndarray
    phase_left: np.ndarray
    opinion: np.ndarray  # int8 colour (discrete) – 0 white, 1 black
    estimate: np.ndarray  # float32 black-share estimate (continuous)
    quality: np.ndarray
    seen: np.ndarray  # tiles sensed in the current exploration
    matched: np.ndarray  # ... that matched the opinion
    seen_total: np.ndarray  # tiles sensed since the start
    black_total: np.ndarray  # ... that were black
    byzantine: np.ndarray
    inbox: np.ndarray  # (M, memory) last messages received, most recent first
    inbox_quality: np.ndarray
    inbox_n: np.ndarray

    @property
    def size(self) -> int:
        return self.runs * self.n


def _placement(
    scenario: Scenario, byz: int, g: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions and Byzantine mask of one run; 'cluster' packs the liars in one corner."""
    side, n = scenario.arena.side_m, scenario.robots
    margin = min(0.05, side / 10)
    x = g.uniform(margin, side - margin, n)
    y = g.uniform(margin, side - margin, n)
    liars = np.zeros(n, dtype=bool)
    liars[g.permutation(n)[:byz]] = True
    if scenario.byzantine.placement == "cluster" and byz:
        corner = margin + (side - 2 * margin) * min(1.0, np.sqrt(byz / n))
        x[liars] = g.uniform(margin, corner, byz)
        y[liars] = g.uniform(margin, corner, byz)
    return x, y, liars


def _initial_opinions(n: int, liars: np.ndarray, g: np.random.Generator) -> np.ndarray:
    """Honest robots start half and half (the extra one, if odd, drawn at random)."""
    honest = flat_nonzero(~liars)
    colours = np.zeros(honest.size, dtype=np.int8)
    colours[: honest.size // 2] = 1
    if honest.size % 2:
        colours[-1] = g.integers(0, 2)
    out = np.zeros(n, dtype=np.int8)
    out[honest] = g.permutation(colours)
    return out


def new_swarm(scenarios: list[Scenario], seeds: list[int]) -> Swarm:
    """Initial state of a batch; the scenarios share all but the seed and Byzantine count."""
    base = scenarios[0]
    n, runs, t = base.robots, len(scenarios), base.timing
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("x", "y", "h", "byz", "op", "tiles")}
    for scenario, seed in zip(scenarios, seeds, strict=True):
        g = rng.generator(seed, 0)
        cols["tiles"].append(lay_tiles(base.arena, g).ravel())
        x, y, liars = _placement(scenario, scenario.byzantine_count, g)
        cols["x"].append(x)
        cols["y"].append(y)
        cols["byz"].append(liars)
        cols["h"].append(g.uniform(0, 2 * np.pi, n))
        cols["op"].append(_initial_opinions(n, liars, g))
    m = runs * n
    heading = np.concatenate(cols["h"])
    step = t.speed_m_s / t.ticks_per_s
    seeds_arr = np.repeat(np.array(seeds, dtype=np.uint64), n)
    local = np.tile(np.arange(n, dtype=np.uint32), runs)
    u = rng.uniform(seeds_arr, -1, local, S_EXPLORE)
    turn = rng.uniform(seeds_arr, -1, local, S_TURN)
    return Swarm(
        runs=runs,
        n=n,
        arena=base.arena,
        tiles=np.concatenate(cols["tiles"]),
        run_of=np.repeat(np.arange(runs, dtype=np.int32), n),
        local=local,
        seeds=seeds_arr,
        x=np.concatenate(cols["x"]).astype(np.float32),
        y=np.concatenate(cols["y"]).astype(np.float32),
        vx=(np.cos(heading) * step).astype(np.float32),
        vy=(np.sin(heading) * step).astype(np.float32),
        turn_in=rng.exponential_ticks(turn, t.turn_mean_s * t.ticks_per_s),
        phase=np.zeros(m, dtype=np.int8),
        phase_left=rng.exponential_ticks(u, t.explore_mean_s * t.ticks_per_s),
        opinion=np.concatenate(cols["op"]),
        estimate=np.full(m, 0.5, dtype=np.float32),
        quality=np.zeros(m, dtype=np.float32),
        seen=np.zeros(m, dtype=np.int32),
        matched=np.zeros(m, dtype=np.int32),
        seen_total=np.zeros(m, dtype=np.int32),
        black_total=np.zeros(m, dtype=np.int32),
        byzantine=np.concatenate(cols["byz"]),
        inbox=np.zeros((m, t.memory), dtype=np.float32),
        inbox_quality=np.zeros((m, t.memory), dtype=np.float32),
        inbox_n=np.zeros(m, dtype=np.int8),
    )


def flat_nonzero(mask: np.ndarray) -> np.ndarray:
    """Indices where a 1-D mask is true: np.flatnonzero without its ravel, which costs more
    than the search itself on a small swarm's arrays."""
    return mask.nonzero()[0]


def move(s: Swarm, tick: int, turn_mean_ticks: float) -> None:
    """Straight runs with random turns; robots that would leave the arena bounce off the wall."""
    s.x += s.vx
    s.y += s.vy
    side = np.float32(s.arena.side_m)
    # Most ticks nobody reaches a wall: four reductions then beat two masks per axis.
    if min(s.x.min(), s.y.min()) >= 0 and max(s.x.max(), s.y.max()) <= side:
        axes: tuple[tuple[np.ndarray, np.ndarray], ...] = ()
    else:
        axes = ((s.x, s.vx), (s.y, s.vy))
    for pos, vel in axes:
        out = flat_nonzero((pos < 0) | (pos > side))
        if out.size:
            p = pos[out]
            pos[out] = np.where(p < 0, -p, 2 * side - p)
            vel[out] = -vel[out]
    s.turn_in -= 1
    turning = flat_nonzero(s.turn_in <= 0)
    if turning.size:
        seeds, local = s.seeds[turning], s.local[turning]
        angle = 2 * np.pi * rng.uniform(seeds, tick, local, S_HEADING)
        speed = np.hypot(s.vx[turning], s.vy[turning])
        s.vx[turning] = np.cos(angle) * speed
        s.vy[turning] = np.sin(angle) * speed
        s.turn_in[turning] = rng.exponential_ticks(
            rng.uniform(seeds, tick, local, S_TURN), turn_mean_ticks
        )


def tile_under(s: Swarm) -> np.ndarray:
    """Colour of the tile under each robot (True = black)."""
    t = s.arena.tiles_per_side
    inv = np.float32(1.0 / s.arena.tile_m)
    # Runs every tick over every robot: in place, and without the run offset of a lone run.
    col = (s.x * inv).astype(np.int32)
    np.minimum(col, t - 1, out=col)
    at = (s.y * inv).astype(np.int32)
    np.minimum(at, t - 1, out=at)
    at *= t
    at += col
    if s.runs > 1:
        at += s.run_of * np.int32(t * t)
    return s.tiles.take(at)  # take() skips the int32 -> intp index copy of s.tiles[at]


def sense(s: Swarm, totals: bool) -> None:
    """Exploring robots count the tiles they see and those matching their opinion; with
    `totals`, also every tile and black tile since the start (continuous estimates)."""
    black = tile_under(s)
    exploring = s.phase == EXPLORE
    s.seen += exploring
    s.matched += exploring & (black == s.opinion.astype(bool))
    if totals:
        s.seen_total += exploring
        s.black_total += exploring & black


@dataclass(frozen=True)
class Grid:
    """Spatial hash of a batch: square cells of the communication range, padded per run."""

    cell_m: float
    per_side: int

    @staticmethod
    def for_arena(arena: ArenaSpec, range_m: float) -> Grid:
        return Grid(range_m, int(np.ceil(arena.side_m / range_m)))

    @property
    def stride(self) -> int:
        return self.per_side + 2

    @property
    def per_run(self) -> int:
        return self.stride * self.stride

    def cells(self, x: np.ndarray, y: np.ndarray, run: np.ndarray) -> np.ndarray:
        inv = np.float32(1.0 / self.cell_m)
        cx = (x * inv).astype(np.int32)
        np.minimum(cx, self.per_side - 1, out=cx)
        cy = (y * inv).astype(np.int32)
        np.minimum(cy, self.per_side - 1, out=cy)
        # int32 keeps the sort fast; it holds any batch below 2**31 cells. The padding row and
        # column (+1 on each axis) fold into one stride + 1.
        cy *= self.stride
        cy += cx
        cy += run * np.int32(self.per_run) + (self.stride + 1)
        return cy

    def row_starts(self) -> np.ndarray:
        """First of the three cells in each row of a cell's 3 × 3 block, relative to the cell;
        the three cells of a row are consecutive, so their senders form one sorted range."""
        return np.array([-1, 0, 1]) * self.stride - 1


def neighbour_pairs(
    grid: Grid, s: Swarm, receivers: np.ndarray, senders: np.ndarray, range_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """All (receiver, sender) index pairs closer than range_m, by sort-based spatial hashing.

    Cost is O((R + S) log S + pairs), never O(R * S).
    """
    empty = np.empty(0, dtype=np.int64)
    if receivers.size == 0 or senders.size == 0:
        return empty, empty
    if receivers.size * senders.size <= BRUTE_FORCE_PAIRS:
        return _all_pairs(grid, s, receivers, senders, range_m)
    scell = grid.cells(s.x[senders], s.y[senders], s.run_of[senders])
    cells = s.runs * grid.per_run
    # A stable sort keeps senders of a cell in index order, whatever else is in the batch;
    # on 16-bit keys numpy's stable sort is a radix sort, several times faster.
    order = np.argsort(scell.astype(np.uint16) if cells <= 1 << 16 else scell, kind="stable")
    # Dense prefix table (counting sort): the senders of cells [a, b) are
    # order[before[a] : before[b]].
    before = np.zeros(cells + 1, dtype=np.int64)
    np.cumsum(np.bincount(scell, minlength=cells), out=before[1:])
    row = (grid.cells(s.x[receivers], s.y[receivers], s.run_of[receivers])[:, None]
           + grid.row_starts()[None, :]).ravel()
    lo = before[row]
    counts = before[row + 3] - lo
    total = int(counts.sum())
    if total == 0:
        return empty, empty
    rec = np.repeat(np.repeat(receivers, 3), counts)
    first = np.cumsum(counts) - counts
    snd = senders[order[np.arange(total) - np.repeat(first - lo, counts)]]
    dx = s.x[rec] - s.x[snd]
    dy = s.y[rec] - s.y[snd]
    keep = (dx * dx + dy * dy <= np.float32(range_m * range_m)) & (rec != snd)
    return rec[keep], snd[keep]


def _all_pairs(grid: Grid, s: Swarm, receivers: np.ndarray, senders: np.ndarray,
               range_m: float) -> tuple[np.ndarray, np.ndarray]:
    """neighbour_pairs for a few robots: every distance at once (a handful of numpy calls
    instead of the hash's dozens), in the hash's order (receiver, sender cell, sender)."""
    dx = s.x[receivers][:, None] - s.x[senders][None, :]
    dy = s.y[receivers][:, None] - s.y[senders][None, :]
    near = (dx * dx + dy * dy <= np.float32(range_m * range_m))
    near &= receivers[:, None] != senders[None, :]
    if s.runs > 1:
        near &= s.run_of[receivers][:, None] == s.run_of[senders][None, :]
    r, k = near.nonzero()
    if r.size > 1 and (r[1:] == r[:-1]).any():
        # A receiver hears several senders: they come by cell, then by index.
        scell = grid.cells(s.x[senders], s.y[senders], s.run_of[senders])
        order = np.lexsort((k, scell[k], r))
        r, k = r[order], k[order]
    return receivers[r].astype(np.int64), senders[k].astype(np.int64)


def deliver(s: Swarm, receivers: np.ndarray, values: np.ndarray, qualities: np.ndarray) -> None:
    """Push messages into the receivers' inboxes (most recent first, oldest dropped)."""
    if receivers.size == 0:
        return
    m = s.inbox.shape[1]
    if receivers.size <= FEW_MESSAGES:
        # A few messages: push them one by one, as below keeping each receiver's first m of
        # this tick (the m-th ends up first).
        taken: dict[int, int] = {}
        for r, v, q in zip(receivers.tolist(), values.tolist(), qualities.tolist(), strict=True):
            taken[r] = taken.get(r, 0) + 1
            if taken[r] > m:
                continue
            box, qbox = s.inbox[r], s.inbox_quality[r]
            box[1:] = box[:-1]
            qbox[1:] = qbox[:-1]
            box[0], qbox[0] = v, q
            s.inbox_n[r] = min(int(s.inbox_n[r]) + 1, m)
        return
    rec, val, qual = receivers, values, qualities
    if np.any(rec[1:] < rec[:-1]):  # pairs usually arrive grouped by receiver already
        order = np.argsort(rec, kind="stable")
        rec, val, qual = rec[order], val[order], qual[order]
    start = flat_nonzero(np.concatenate(([True], rec[1:] != rec[:-1])))
    who = rec[start]
    fresh = np.minimum(np.diff(np.append(start, rec.size)), m)
    # Newest messages take the first slots; older ones slide right by the number received.
    # Both inboxes share one pair of gather indices; slot j < fresh takes message
    # fresh - 1 - j of its receiver, any other slot the old message j - fresh.
    slot = np.arange(m)[None, :]
    src = slot - fresh[:, None]
    old = src >= 0
    old_at = who[:, None] * m + np.maximum(src, 0)
    new_at = np.maximum(start[:, None] - 1 - src, 0)
    for box, new in ((s.inbox, val), (s.inbox_quality, qual)):
        box[who] = np.where(old, box.reshape(-1)[old_at], new[new_at])
    s.inbox_n[who] = np.minimum(s.inbox_n[who] + fresh, m).astype(np.int8)
