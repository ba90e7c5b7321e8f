"""Vectorised robots of a batch of independent runs: motion, sensing, phases, neighbours.

Every array is flat over the batch (run-major: robot i of run r sits at r * n + i; positions
and velocities hold one such row per axis), so one numpy operation advances all robots of all
runs by one tick. Runs never see each other: their
spatial-hash cells are padded apart and their random numbers come from their own seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from swarm_sim import rng
from swarm_sim.arena import ArenaSpec, lay_tiles
from swarm_sim.config import Scenario

# Phase codes: 0 and 1, so that a phase array cast to bool says who disseminates.
EXPLORE, DISSEMINATE = 0, 1
# Below this many receiver × sender candidates, neighbours are found by comparing every pair.
BRUTE_FORCE_PAIRS = 4096
# Up to this many robots in a batch, a Proximity table finds the neighbours of every tick.
PROXIMITY_ROBOTS = 64
# Up to this many messages, deliver() pushes them one at a time.
FEW_MESSAGES = 6
# Motion plans robots' turns this many ticks ahead, fewer when that would exceed PLAN_TURNS.
PLAN_TICKS = 256
PLAN_TURNS = 1 << 16
# Random-number streams, so that draws for different purposes never coincide.
S_TURN, S_HEADING, S_EXPLORE, S_DISSEMINATE, S_CHOICE, S_BYZANTINE = range(6)


@dataclass
class Swarm:
    """State of runs × robots; the per-robot arrays all have length runs * robots."""

    runs: int
    n: int
    arena: ArenaSpec
    # (runs * (tiles_per_side + 1)²,) int8, 1 = black, as opinions are (a comparison without
    # a cast); each run's last row and column repeat the ones before, where a robot exactly
    # on the far wall reads its tile.
    tiles: np.ndarray
    run_of: np.ndarray
    local: np.ndarray
    seeds: np.ndarray  # each robot carries its run's seed (uint64)
    # Positions and velocities (per tick) as rows x and y: one numpy call moves every robot;
    # x, y, vx and vy are views of the rows.
    pos: np.ndarray
    vel: np.ndarray
    turn_at: np.ndarray  # the tick of each robot's first turn that Motion has not planned
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
    x: np.ndarray = field(init=False)
    y: np.ndarray = field(init=False)
    vx: np.ndarray = field(init=False)
    vy: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.x, self.y = self.pos
        self.vx, self.vy = self.vel

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
        floor = lay_tiles(base.arena, g).astype(np.int8)
        cols["tiles"].append(np.pad(floor, (0, 1), mode="edge").ravel())
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
        pos=np.stack([np.concatenate(cols["x"]), np.concatenate(cols["y"])]).astype(np.float32),
        vel=(np.stack([np.cos(heading), np.sin(heading)]) * step).astype(np.float32),
        # A robot drawn k ticks turns on its k-th tick, tick k - 1.
        turn_at=rng.exponential_ticks(turn, t.turn_mean_s * t.ticks_per_s) - 1,
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


class Motion:
    """Straight runs with random turns; robots that would leave the arena bounce off the wall.

    A robot's turns depend on nothing but its own draws and speed (a bounce flips the sign of
    its velocity, not its speed), so they are planned a block of ticks ahead for every robot
    at once and applied tick by tick: on a small swarm's tick a turn costs two numpy calls
    instead of some twenty."""

    def __init__(self, s: Swarm, turn_mean_ticks: float) -> None:
        self.s, self.turn_mean = s, turn_mean_ticks
        # About PLAN_TURNS turns per plan, never more than PLAN_TICKS ticks ahead.
        self.horizon = int(np.clip(PLAN_TURNS * turn_mean_ticks / s.size, 1, PLAN_TICKS))
        self.planned = 0  # ticks below this one are planned
        # Each robot's velocity after its last planned turn (x and y).
        self.vx, self.vy = s.vx.copy(), s.vy.copy()
        self.who = np.empty(0, dtype=np.intp)
        self.new_vx = self.new_vy = np.empty(0, dtype=np.float32)
        self.due: list[int] = []  # the ticks with turns, then the end of the plan
        self.bounds: list[int] = []  # the turns of due[i] are who[bounds[i]:bounds[i + 1]]
        self.next = 0  # index into due

    def _plan(self, start: int) -> None:
        s, end = self.s, start + self.horizon
        parts: list[tuple[np.ndarray, ...]] = [(np.empty(0, dtype=np.int32), self.who[:0],
                                                self.new_vx[:0], self.new_vy[:0])]
        while True:  # one round per turn a robot makes before `end`
            who = flat_nonzero(s.turn_at < end)
            if who.size == 0:
                break
            at, seeds, local = s.turn_at[who], s.seeds[who], s.local[who]
            angle = 2 * np.pi * rng.uniform(seeds, at, local, S_HEADING)
            speed = np.hypot(self.vx[who], self.vy[who])
            vx = (np.cos(angle) * speed).astype(np.float32)
            vy = (np.sin(angle) * speed).astype(np.float32)
            self.vx[who], self.vy[who] = vx, vy
            s.turn_at[who] = at + rng.exponential_ticks(rng.uniform(seeds, at, local, S_TURN),
                                                        self.turn_mean)
            parts.append((at, who, vx, vy))
        at, who, vx, vy = (np.concatenate(p) for p in zip(*parts, strict=True))
        order = np.argsort(at, kind="stable")
        at, self.who, self.new_vx, self.new_vy = at[order], who[order], vx[order], vy[order]
        first = flat_nonzero(np.concatenate(([True], at[1:] != at[:-1]))) if at.size else at
        self.due = [*at[first].tolist(), end]
        self.bounds = [*first.tolist(), at.size]
        self.next, self.planned = 0, end

    def step(self, tick: int) -> None:
        """Advance every robot by one tick."""
        s = self.s
        s.pos += s.vel
        side = s.arena.side_m
        # Most ticks nobody reaches a wall: two reductions then beat the masks.
        if s.pos.min() < 0 or s.pos.max() > side:
            axis, who = ((s.pos < 0) | (s.pos > np.float32(side))).nonzero()
            p = s.pos[axis, who]
            s.pos[axis, who] = np.where(p < 0, -p, 2 * np.float32(side) - p)
            s.vel[axis, who] = -s.vel[axis, who]
        if tick == self.planned:
            self._plan(tick)
        if tick == self.due[self.next]:
            a, b = self.bounds[self.next], self.bounds[self.next + 1]
            who = self.who[a:b]
            s.vx[who] = self.new_vx[a:b]  # row by row: a 2-D fancy index costs several times more
            s.vy[who] = self.new_vy[a:b]
            self.next += 1


def tile_under(s: Swarm) -> np.ndarray:
    """Colour of the tile under each robot (1 = black)."""
    stride = s.arena.tiles_per_side + 1
    # Runs every tick over every robot: one product for both axes, no clamp (the padded tiles
    # hold a robot on the far wall), and no run offset for a lone run.
    cell = (s.pos * np.float32(1.0 / s.arena.tile_m)).astype(np.int32)
    at = cell[1] * stride
    at += cell[0]
    if s.runs > 1:
        at += s.run_of * np.int32(stride * stride)
    return s.tiles.take(at)  # take() skips the int32 -> intp index copy of s.tiles[at]


def sense(s: Swarm, totals: bool) -> None:
    """Exploring robots count the tiles they see and those matching their opinion; with
    `totals`, also every tile and black tile since the start (continuous estimates)."""
    black = tile_under(s)
    exploring = ~s.phase.view(bool)  # cheaper than == EXPLORE on a small swarm's tick
    s.seen += exploring
    s.matched += exploring & (black == s.opinion)
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
    instead of the hash's dozens)."""
    dx = s.x[receivers][:, None] - s.x[senders][None, :]
    dy = s.y[receivers][:, None] - s.y[senders][None, :]
    near = (dx * dx + dy * dy <= np.float32(range_m * range_m))
    near &= receivers[:, None] != senders[None, :]
    if s.runs > 1:
        near &= s.run_of[receivers][:, None] == s.run_of[senders][None, :]
    return _in_hash_order(grid, s, receivers, senders, *near.nonzero())


def _in_hash_order(grid: Grid, s: Swarm, receivers: np.ndarray, senders: np.ndarray,
                   r: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (receivers[r], senders[k]) given by r then k, in the spatial hash's order:
    receiver, then sender cell, then sender."""
    if r.size > 1 and np.count_nonzero(r[1:] == r[:-1]):
        # A receiver hears several senders: they come by cell, then by index.
        snd = senders[k]
        order = np.lexsort((k, grid.cells(s.x[snd], s.y[snd], s.run_of[snd]), r))
        r, k = r[order], k[order]
    return receivers[r], senders[k]


class Proximity:
    """Who is in range of whom in a batch of a few robots: every pair's squared distance at
    once, in buffers kept from tick to tick (a few numpy calls a tick, the same float32
    arithmetic as neighbour_pairs)."""

    def __init__(self, s: Swarm, range_m: float) -> None:
        m = s.size
        self._a, self._b = s.pos[:, :, None], s.pos[:, None, :]  # views: they follow s.pos
        self._diff = np.empty((2, m, m), dtype=np.float32)
        self._dx2, self._dy2 = self._diff
        self._d2 = np.empty((m, m), dtype=np.float32)
        self._near = np.empty((m, m), dtype=bool)
        # Nobody hears itself or a robot of another run: there the reach is below any distance.
        reach = np.full((m, m), np.float32(range_m * range_m))
        reach[s.run_of[:, None] != s.run_of[None, :]] = -1
        np.fill_diagonal(reach, -1)
        self._reach = reach
        self._everyone = np.arange(m)

    def pairs(self, grid: Grid, s: Swarm, receivers: np.ndarray, sending: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """neighbour_pairs(grid, s, receivers, flat_nonzero(sending), range_m)."""
        np.subtract(self._a, self._b, out=self._diff)
        np.multiply(self._diff, self._diff, out=self._diff)
        np.add(self._dx2, self._dy2, out=self._d2)
        np.less_equal(self._d2, self._reach, out=self._near)
        heard = self._near.take(receivers, axis=0)  # take(): a tenth of [receivers]'s cost
        heard &= sending
        return _in_hash_order(grid, s, receivers, self._everyone, *heard.nonzero())


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
