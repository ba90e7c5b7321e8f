"""Stroke painter: fit brush strokes to a target image with a differentiable rasteriser.

A stroke is a polyline of `SAMPLES` points with one colour and a brush radius per point
(pressure). Its shape is a quadratic Bézier spine plus each point's own offset from it
(at most the stroke's reach), so a stroke can follow a wavy edge or fill an irregular
patch; its radius is a quadratic Bézier of three radii (a radius of each point's own gained
at most 0.25 dB and made beads along wide strokes, which an arm must split into passes).
It is painted opaque, with round caps and anti-aliased edges, exactly as
`vision.plan.render_preview` draws it (coverage = clip(r - d + 0.5, 0, 1), d the distance
to a segment, r interpolated along it). The optimiser therefore sees what the preview shows.
The loss adds a small penalty on kinks (second differences of the points, over the brush
radius), so strokes stay curves a brush can follow rather than zigzags.

Strokes are added coarse to fine in stages. Each stage places its strokes one at a
time, each the best of `candidates` random strokes drawn where the error is largest
(direction along the local edges, the target's mean colour under it) by how much it
lowers the error painted over what is there, and then optimises them with Adam together
with all strokes placed before (coarse stages at 1/4 or 1/2 resolution), so earlier
strokes make room for the new ones. A stage bounds its
strokes' width, not their length: fine strokes may be long and thin. The rasteriser
keeps, per pixel, the stack of strokes that cover it in painting order and composites
all stacks in one vectorised pass, so the cost grows with the painted area rather than
with strokes x pixels.

Colours are not left to gradient descent: an opaque painting is linear in its colours
(pixel = sum of colour_i x coverage_i x what later strokes leave visible), so after
each stage and each round of the final refinement the colours are solved in closed form
(ridge-regularised least squares, clipped to 0..1). Between rounds of the final
refinement, the strokes whose removal would raise the error least (computed exactly
from the per-pixel stacks) are respawned, placed like a stage's strokes but of mixed
sizes. Paintings of more than `reference_strokes` strokes get more iterations (square
root of the stroke count). With a fixed palette the paints
are assigned by coordinate descent on the same quadratic form and the geometry is
refined with them.

`paint` can start from a canvas that already carries paint (`start`): the new strokes
are fitted on top of it, which is what a closed loop needs for corrections.

`greedy_paint` is the gradient-free baseline: greedy random search with the same
stroke model and rasteriser.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vision.errors import PainterError
from vision.plan import Canvas, Paint, Stroke, preview_size
from vision.segments import MARGIN, deepest

SAMPLES = 32  # points per stroke polyline
Progress = Callable[[int], None]

__all__ = [
    "PainterConfig",
    "PainterError",
    "PaintResult",
    "Progress",
    "greedy_paint",
    "paint",
    "total_iterations",
]


@dataclass(frozen=True)
class PainterConfig:
    """Knobs of the optimiser; the defaults are what the benchmark measures."""

    strokes: int = 200
    size: int = 128  # optimisation resolution of the longer canvas side, px
    seed: int = 0
    stages: int = 8
    stage_iterations: int = 75
    final_iterations: int = 120  # split over `rounds` rounds of the final refinement
    rounds: int = 4  # final rounds; the weakest strokes are respawned between them
    # Iterations above are for up to `reference_strokes`; beyond, both grow with the square
    # root of the stroke count (more strokes to fit; 0: never).
    reference_strokes: int = 200
    palette_iterations: int = 30
    lr: float = 0.02
    growth: float = 1.35  # each stage has this many times the strokes of the one before
    coarsest: float = 0.3  # stroke reach of the first stage, share of the longer side
    finest: float = 0.03  # ... and of the last stage
    respawn_share: float = 0.1  # share of strokes respawned between rounds: those whose
    # removal raises the error least
    candidates: int = 32  # strokes drawn per placed stroke (0: error-weighted random)
    # Weight of the strokes' mean squared kink (second difference of their points over the
    # brush radius) in the loss: 0 lets strokes zigzag; 1e-4 keeps them brush-like
    # curves at about 0.4 dB.
    bend: float = 1e-4
    threads: int | None = 1  # small ops: OpenMP barriers cost more than a 2nd core gains


@dataclass(frozen=True)
class PaintResult:
    """Strokes in canvas mm with their paints, and the optimiser's own rendering (uint8).

    `free_rendered` is the rendering before colours snapped to a fixed palette (None
    without one): comparing both gives the fidelity the palette costs. `rendered` and
    `free_rendered` include the starting canvas when one was given.
    """

    strokes: tuple[Stroke, ...]
    palette: tuple[Paint, ...]
    rendered: np.ndarray
    free_rendered: np.ndarray | None
    px_per_mm: float
    iterations: int
    target: np.ndarray  # the target as the optimiser saw it, at its resolution


# ---------------------------------------------------------------- rasteriser


@dataclass
class _Group:
    """Strokes of one size class: `reach` bounds their extent, `max_r` their radius (px)."""

    centre: torch.Tensor  # (n, 2) px
    chord: torch.Tensor  # (n, 2) half chord P0 - centre, px
    bend: torch.Tensor  # (n, 2) control point - centre, px
    log_r: torch.Tensor  # (n, 3) log brush radius at P0, control point, P2, px
    colour: torch.Tensor  # (n, 3) 0..1
    offset: torch.Tensor  # (n, SAMPLES, 2) each point's displacement from the spine, px
    reach: float  # max |chord|, |bend|, |offset| per axis, px
    max_r: float

    @classmethod
    def spine(
        cls, centre: torch.Tensor, chord: torch.Tensor, bend: torch.Tensor, log_r: torch.Tensor,
        colour: torch.Tensor, reach: float, max_r: float,
    ) -> _Group:
        """Strokes that follow their Bézier spine exactly (no offsets)."""
        return cls(centre, chord, bend, log_r, colour,
                   torch.zeros(len(centre), SAMPLES, 2, dtype=centre.dtype), reach, max_r)

    def params(self) -> list[torch.Tensor]:
        return [self.centre, self.chord, self.bend, self.log_r, self.colour, self.offset]

    def __len__(self) -> int:
        return len(self.centre)

    def take(self, index: torch.Tensor) -> _Group:
        """A new group of the strokes at `index` (detached copies)."""
        return _Group(
            *(p.detach()[index].clone() for p in self.params()), reach=self.reach, max_r=self.max_r
        )


def _concat(groups: list[_Group], reach: float, max_r: float) -> _Group:
    """One group of all the strokes of `groups`, in order, with the given bounds."""
    return _Group(
        *(torch.cat(p) for p in zip(*(g.params() for g in groups), strict=True)),
        reach=reach, max_r=max_r,
    )


def _polylines(g: _Group, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, SAMPLES, 2) clamped polyline points and (n, SAMPLES) radii in px."""
    chord = g.chord.clamp(-g.reach, g.reach)
    bend = g.bend.clamp(-g.reach, g.reach)
    t = torch.linspace(0.0, 1.0, SAMPLES, dtype=chord.dtype)
    basis = torch.stack([(1 - t) ** 2, 2 * (1 - t) * t, t**2], 1)  # (SAMPLES, 3)
    ctrl = torch.stack([g.centre + chord, g.centre + bend, g.centre - chord], 1)  # (n, 3, 2)
    pts = torch.einsum("sk,nkd->nsd", basis, ctrl) + g.offset.clamp(-g.reach, g.reach)
    lim = torch.tensor([width, height], dtype=pts.dtype)
    pts = torch.minimum(pts.clamp_min(0.0), lim)
    radii = g.log_r.clamp(math.log(0.5), math.log(g.max_r)).exp()  # (n, 3)
    return pts, radii @ basis.T


def _inside(
    a: torch.Tensor, b: torch.Tensor, ra: torch.Tensor, rb: torch.Tensor,
    px: torch.Tensor, py: torch.Tensor,
) -> torch.Tensor:
    """r - d at (px, py): d the distance to segment a-b (..., 2), r its radius there."""
    ax, ay, bx, by = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    dx, dy = bx - ax, by - ay
    len2 = (dx * dx + dy * dy).clamp_min(1e-9)
    rx, ry = px - ax, py - ay
    t = ((rx * dx + ry * dy) / len2).clamp(0.0, 1.0)
    d = torch.sqrt((rx - t * dx) ** 2 + (ry - t * dy) ** 2 + 1e-12)
    return ra + t * (rb - ra) - d


def _scaled(g: _Group, scale: float, height: int, width: int) -> tuple[torch.Tensor, ...]:
    pts, radius = _polylines(g, round(height / scale), round(width / scale))
    return pts * scale, radius * scale


def _window_best(
    pts: torch.Tensor, radius: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The deepest r - d over a stroke's segments, and that segment, in a square window
    around each stroke (no gradients).

    Returns (n, size, size) values (-inf where no segment reaches), (n, size, size)
    segment indices, and the windows' top-left (x, y) corners.
    """
    pts, radius = pts.detach(), radius.detach()
    lo, hi = pts.amin(dim=1), pts.amax(dim=1)
    half = max(2, math.ceil(float((hi - lo).max()) / 2 + float(radius.max()) + MARGIN))
    origin = torch.floor((lo + hi) / 2).long() - half  # (n, 2)
    best, seg = deepest(pts.numpy(), radius.numpy(), origin.numpy(), 2 * half)
    return torch.from_numpy(best), torch.from_numpy(seg), origin


def _windows(g: _Group, scale: float, height: int, width: int) -> tuple[torch.Tensor, list]:
    """Coverage of each stroke in a square window around it, at `scale` x full resolution.

    Returns (n, size, size) coverage and the windows' top-left (x, y) pixel corners.
    """
    best, _, origin = _window_best(*_scaled(g, scale, height, width))
    return (best + 0.5).clamp(0.0, 1.0), origin.tolist()


def _coverage(
    g: _Group, scale: float, h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The strokes' nonzero coverage on an (h, w) canvas at `scale`: (stroke, pixel, a).

    A pixel's coverage comes from the polyline segment it lies deepest in. Which pixels
    are covered and by which segment is found without gradients over square windows;
    coverage is then differentiated through that one segment per pixel, which is what
    the max over segments gives, at a fraction of the cost.
    """
    pts, radius = _scaled(g, scale, h, w)
    with torch.no_grad():
        best, seg, origin = _window_best(pts, radius)
        size = best.shape[-1]
        grid = torch.arange(size)
        ys = origin[:, 1, None, None] + grid[None, :, None]
        xs = origin[:, 0, None, None] + grid[None, None, :]
        keep = (best > -0.5) & (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
        i, row, col = keep.nonzero(as_tuple=True)
        seg = seg[i, row, col]
        y, x = origin[i, 1] + row, origin[i, 0] + col
    a = _inside(pts[i, seg], pts[i, seg + 1], radius[i, seg], radius[i, seg + 1],
                x + 0.5, y + 0.5)
    return i, y * w + x, (a + 0.5).clamp(0.0, 1.0)


@dataclass
class _Stack:
    """Every painted (stroke, pixel) pair of a painting, grouped by pixel in painting order.

    `shown` is the stroke's coverage there times what later strokes leave visible, so a
    pixel's value is the sum of colour x shown over its entries plus background x `rest`.
    """

    stroke: torch.Tensor  # (E,) index in painting order
    pixel: torch.Tensor  # (E,) flat pixel index
    shown: torch.Tensor  # (E,)
    rest: torch.Tensor  # (H*W,) share of the background still visible
    cover: torch.Tensor  # (E,) the stroke's own coverage there
    starts: torch.Tensor  # (H*W,) each pixel's first entry


def _stack(groups: list[_Group], scale: float, h: int, w: int) -> _Stack | None:
    """Coverage of all strokes, composited back to front in one vectorised pass.

    Window pixels off the canvas or with zero coverage are dropped: clipped coverage has
    no gradient there either, so forward values and gradients are exact. A pixel's
    transmittance behind entry e is exp(sum of log(1 - a) over later entries), a
    segmented suffix sum over the pixel-sorted entries (in float64: a running sum over
    all entries must keep the small ones).
    """
    strokes, pixels, covers = [], [], []
    first = 0
    for g in groups:
        if not len(g):
            continue
        i, pixel, cov = _coverage(g, scale, h, w)
        strokes.append(i + first)
        pixels.append(pixel)
        covers.append(cov)
        first += len(g)
    if not strokes:
        return None
    stroke, pixel, a = torch.cat(strokes), torch.cat(pixels), torch.cat(covers)
    order = torch.argsort(pixel * first + stroke)
    stroke, pixel, a = stroke[order], pixel[order], a[order]
    # Fully covered pixels hide what lies below up to 1e-6 (log(0) has no gradient).
    cum = torch.cumsum(torch.log((1.0 - a).clamp_min(1e-6)).double(), 0)
    counts = torch.bincount(pixel, minlength=h * w)
    ends = torch.cumsum(counts, 0)
    last = cum[(ends - 1).clamp_min(0)]
    starts = ends - counts
    zero = torch.zeros((), dtype=cum.dtype)
    before = torch.where(starts > 0, cum[(starts - 1).clamp_min(0)], zero)
    rest = torch.exp(torch.where(counts > 0, last - before, zero)).to(a.dtype)
    shown = a * torch.exp(last[pixel] - cum).to(a.dtype)
    return _Stack(stroke, pixel, shown, rest, a, starts)


def _render(groups: list[_Group], background: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Paint the groups' strokes in order over `background` (3, H, W at `scale`).

    Opaque 'over' compositing computed from the per-pixel stacks, so the cost grows
    with the strokes' area, not with strokes x canvas.
    """
    c, h, w = background.shape
    stack = _stack(groups, scale, h, w)
    if stack is None:
        return background
    colours = torch.cat([g.colour.clamp(0.0, 1.0) for g in groups if len(g)])
    paint = torch.zeros(h * w, c, dtype=background.dtype).index_add(
        0, stack.pixel, colours[stack.stroke] * stack.shown[:, None]
    )
    return paint.T.reshape(c, h, w) + background * stack.rest.reshape(h, w)


@dataclass
class _Visibility:
    """How much each stroke shows in the finished painting, as a linear map of colours.

    `weights` is (n, H*W): pixel value = weights.T @ colours + background * `rest`.
    """

    weights: torch.Tensor
    rest: torch.Tensor  # (H, W): share of the background still visible


def _visibility(groups: list[_Group], h: int, w: int) -> _Visibility:
    """Each stroke's weight per pixel: its coverage times what later strokes leave."""
    n = sum(len(g) for g in groups)
    weights = torch.zeros(n, h * w)
    stack = _stack(groups, 1.0, h, w)
    if stack is None:
        return _Visibility(weights, torch.ones(h, w))
    weights[stack.stroke, stack.pixel] = stack.shown
    return _Visibility(weights, stack.rest.reshape(h, w))


def _normal_equations(
    vis: _Visibility, background: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gram matrix (n, n) and right-hand side (n, 3) of least squares over the colours."""
    residual = (target - background * vis.rest).reshape(3, -1)
    return vis.weights @ vis.weights.T, vis.weights @ residual.T


def _solve_colours(groups: list[_Group], background: torch.Tensor, target: torch.Tensor) -> None:
    """Set every stroke's colour to the least-squares optimum for the current geometry."""
    _, h, w = target.shape
    vis = _visibility(groups, h, w)
    gram, rhs = _normal_equations(vis, background, target)
    old = torch.cat([g.colour.detach() for g in groups])
    # A ridge towards the old colour keeps hidden strokes' colours where they were.
    ridge = 1e-3 * float(gram.diagonal().mean()) + 1e-6
    eye = torch.eye(len(old))
    colours = torch.linalg.solve(gram + ridge * eye, rhs + ridge * old).clamp(0.0, 1.0)
    _assign(groups, colours)


def _assign_paints(
    groups: list[_Group], background: torch.Tensor, target: torch.Tensor, table: torch.Tensor
) -> None:
    """Give each stroke the paint of `table` that lowers the squared error most (sweeps of
    coordinate descent on the colours' quadratic form, starting from the nearest paint)."""
    _, h, w = target.shape
    gram, rhs = _normal_equations(_visibility(groups, h, w), background, target)
    current = torch.cat([g.colour.detach() for g in groups])
    choice = torch.cdist(current.clamp(0, 1), table).argmin(1)
    colours = table[choice].clone()
    norms = (table * table).sum(1)  # (k,)
    for _ in range(3):
        changed = False
        for i in range(len(colours)):
            # Error as a function of stroke i's colour p: G_ii |p|^2 - 2 p . b_i + const.
            b_i = rhs[i] - gram[i] @ colours + gram[i, i] * colours[i]
            best = int(torch.argmin(gram[i, i] * norms - 2 * table @ b_i))
            if best != int(choice[i]):
                choice[i] = best
                colours[i] = table[best]
                changed = True
        if not changed:
            break
    _assign(groups, colours)


def _assign(groups: list[_Group], colours: torch.Tensor) -> None:
    k = 0
    for g in groups:
        g.colour = colours[k : k + len(g)].clone()
        k += len(g)


# ---------------------------------------------------------------- placement


def _blur(img: torch.Tensor, k: int) -> torch.Tensor:
    k = max(1, k | 1)
    return F.avg_pool2d(img[None], k, 1, k // 2, count_include_pad=False)[0]


def _place(
    canvas: torch.Tensor,
    target: torch.Tensor,
    n: int,
    reach: float,
    gen: torch.Generator,
    max_length: float = 0.0,
) -> _Group:
    """New strokes where the blurred error is largest, oriented along the target's edges.

    They start about `reach` long with radius reach / 3; the optimiser may widen them to
    reach / 2 and lengthen them to max(reach, `max_length`) per half chord and bend.
    """
    _, h, w = target.shape
    k = max(1, round(reach))
    err = _blur(((canvas - target) ** 2).sum(0, keepdim=True), k)[0]
    weights = (err.flatten() ** 2) + 1e-12
    idx = torch.multinomial(
        weights / weights.sum(), n, replacement=n > weights.numel(), generator=gen
    )
    yy, xx = idx // w, idx % w
    theta = _edge_angle(target, k)[yy, xx] + 0.3 * (torch.rand(n, generator=gen) - 0.5)
    length = reach * (0.5 + 0.5 * torch.rand(n, generator=gen))
    chord = torch.stack([torch.cos(theta), torch.sin(theta)], 1) * length[:, None]
    colour = _blur(target, k)[:, yy, xx].T.contiguous()
    centre = torch.stack([xx, yy], 1).to(target.dtype) + 0.5
    log_r = torch.full((n, 3), math.log(max(0.6, reach / 3.0)), dtype=target.dtype)
    return _Group.spine(
        centre,
        chord,
        torch.zeros_like(chord),
        log_r,
        colour,
        reach=max(reach, max_length),
        max_r=max(1.0, reach / 2),
    )


def _gains(
    cand: _Group, canvas: torch.Tensor, tgt: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """How much painting each candidate stroke alone over `canvas` lowers the squared error,
    each in the colour that lowers it most (the target's mean under its coverage): (m,), (m, 3)."""
    _, h, w = tgt.shape
    cov, origins = _windows(cand, 1.0, h, w)
    size = cov.shape[-1]
    pad = size
    grid = torch.arange(size)
    org = torch.tensor(origins) + pad
    rows = (org[:, 1, None] + grid)[:, :, None]
    cols = (org[:, 0, None] + grid)[:, None, :]
    cv = F.pad(canvas, (pad, pad, pad, pad), value=1.0)[:, rows, cols]  # (3, m, s, s)
    tg = F.pad(tgt, (pad, pad, pad, pad), value=1.0)[:, rows, cols]
    weight = cov.sum((1, 2)).clamp_min(1e-6)
    colour = ((cov * tg).sum((2, 3)) / weight).clamp(0.0, 1.0)  # (3, m)
    new = cv + cov * (colour[:, :, None, None] - cv)
    return ((cv - tg) ** 2 - (new - tg) ** 2).sum((0, 2, 3)), colour.T.contiguous()


def _place_greedy(
    canvas: torch.Tensor,
    target: torch.Tensor,
    n: int,
    reaches: tuple[float, float],
    gen: torch.Generator,
    max_length: float = 0.0,
    candidates: int = 32,
) -> _Group:
    """`n` new strokes picked one at a time, each the best of `candidates` drawn where the
    error is largest (direction along the local edges, random reach between `reaches`,
    random length and width up to it), painted over the canvas before the next is drawn."""
    _, h, w = target.shape
    lo, hi = reaches
    k = max(1, round(math.sqrt(lo * hi)))
    theta_map = _edge_angle(target, k)
    max_r = max(1.0, hi / 2)
    picked: list[_Group] = []
    m = candidates
    for _ in range(n):
        err = _blur(((canvas - target) ** 2).sum(0, keepdim=True), k)[0].flatten()
        idx = torch.multinomial(err / err.sum() + 1e-12, m, replacement=True, generator=gen)
        yy, xx = idx // w, idx % w
        theta = theta_map[yy, xx] + 0.5 * (torch.rand(m, generator=gen) - 0.5)
        reach = lo * (hi / lo) ** torch.rand(m, generator=gen)
        length = reach * (0.2 + 0.8 * torch.rand(m, generator=gen))
        chord = torch.stack([torch.cos(theta), torch.sin(theta)], 1) * length[:, None]
        bend = (torch.rand(m, 2, generator=gen) - 0.5) * 0.5 * length[:, None]
        radius = (reach / 2).clamp_min(1.0) * (0.25 + 0.75 * torch.rand(m, generator=gen))
        centre = torch.stack([xx, yy], 1).to(target.dtype) + torch.rand(m, 2, generator=gen)
        cand = _Group.spine(
            centre, chord, bend, radius.log()[:, None].expand(m, 3).contiguous(),
            torch.zeros(m, 3), reach=max(hi, max_length), max_r=max_r,
        )
        gain, cand.colour = _gains(cand, canvas, target)
        pick = cand.take(torch.argmax(gain)[None])
        canvas = _render([pick], canvas)
        picked.append(pick)
    return _concat(picked, max(hi, max_length), max_r)


def _edge_angle(target: torch.Tensor, k: int) -> torch.Tensor:
    """(H, W) direction along the target's local edges: the structure tensor's eigenvector
    with the smaller eigenvalue, over a (2k + 1)-pixel neighbourhood."""
    grey = target.mean(0, keepdim=True)
    gx = F.pad(grey[:, :, 1:] - grey[:, :, :-1], (0, 1))
    gy = F.pad(grey[:, 1:] - grey[:, :-1], (0, 0, 0, 1))
    jxx, jyy, jxy = (_blur(v, 2 * k + 1)[0] for v in (gx * gx, gy * gy, gx * gy))
    return 0.5 * torch.atan2(2 * jxy, jxx - jyy) + math.pi / 2


def _downscale(img: torch.Tensor, scale: float) -> torch.Tensor:
    if scale == 1.0:
        return img
    return F.interpolate(img[None], scale_factor=scale, mode="area")[0]


def _optimise(
    groups: list[_Group],
    train: list[_Group],
    background: torch.Tensor,
    target: torch.Tensor,
    iterations: int,
    lr: float,
    scale: float,
    train_colour: bool = True,
    progress: Progress | None = None,
    bend: float = 0.0,
) -> None:
    tgt, bg = _downscale(target, scale), _downscale(background, scale)
    params = []
    for g in train:
        for p in g.params():
            p.requires_grad_(True)
        params += [
            {"params": [g.centre, g.chord, g.bend], "lr": lr * 25 / scale},
            {"params": [g.log_r], "lr": lr * 2},
            # Offsets refine the spine: half its rate (the full rate lost 0.6 dB on a
            # photo of a building).
            {"params": [g.offset], "lr": lr * 12.5 / scale},
        ]
        if train_colour:
            params.append({"params": [g.colour], "lr": lr})
    opt = torch.optim.Adam(params)
    for _ in range(iterations):
        out = _render(groups, bg, scale)
        loss = F.mse_loss(out, tgt)
        if bend:
            loss = loss + bend * _kinks(train, *target.shape[1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(1)
    for g in train:
        for p in g.params():
            p.requires_grad_(False)


def _kinks(groups: list[_Group], h: int, w: int) -> torch.Tensor:
    """Mean squared kink of the strokes' polylines, in units of their brush radius: a
    brush cannot paint a zigzag finer than its own width."""
    total, count = torch.zeros(()), 0
    for g in groups:
        pts, radius = _polylines(g, h, w)
        second = pts[:, :-2] - 2 * pts[:, 1:-1] + pts[:, 2:]
        total = total + ((second**2).sum(-1) / radius[:, 1:-1] ** 2).sum()
        count += second.shape[0] * second.shape[1]
    return total / max(1, count)


def _respawn(
    groups: list[_Group],
    background: torch.Tensor,
    target: torch.Tensor,
    reaches: tuple[float, float],
    gen: torch.Generator,
    share: float = 0.0,
    max_length: float = 0.0,
    candidates: int = 0,
) -> list[_Group]:
    """Replace the `share` of strokes whose removal would raise the error least (and
    those that lower it by less than nothing) by new strokes where the error is largest,
    painted last."""
    cost = _removal_cost(groups, background, target)
    weak = cost <= 0
    if share > 0:
        weak |= cost <= torch.quantile(cost, share)
    count = int(weak.sum())
    if count == 0:
        return groups
    kept: list[_Group] = []
    k = 0
    for g in groups:
        keep = ~weak[k : k + len(g)]
        k += len(g)
        if bool(keep.any()):
            kept.append(g.take(torch.nonzero(keep).flatten()))
    with torch.no_grad():
        canvas = _render(kept, background)
    if candidates:
        new = _place_greedy(canvas, target, count, reaches, gen, max_length, candidates)
    else:
        new = _place(canvas, target, count, reaches[0], gen, max_length)
    return [*kept, new]


def _removal_cost(
    groups: list[_Group], background: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """(n,) how much the squared error grows when each stroke alone is left out.

    Leaving out entry e of a pixel changes it by shown_e x (below_e - colour_e), below_e
    being what the entries under e composite to; that is built level by level up the
    pixels' stacks.
    """
    _, h, w = target.shape
    n = sum(len(g) for g in groups)
    stack = _stack(groups, 1.0, h, w)
    if stack is None:
        return torch.zeros(n)
    colours = torch.cat([g.colour.clamp(0.0, 1.0) for g in groups if len(g)])
    bg = background.reshape(3, -1).T
    value = torch.zeros(h * w, 3).index_add(
        0, stack.pixel, colours[stack.stroke] * stack.shown[:, None]
    ) + bg * stack.rest[:, None]
    level = torch.arange(len(stack.pixel)) - stack.starts[stack.pixel]
    below = torch.empty(len(stack.pixel), 3)
    first = level == 0
    below[first] = bg[stack.pixel[first]]
    for d in range(1, int(level.max()) + 1):
        e = torch.nonzero(level == d).flatten()
        a = stack.cover[e - 1, None]
        below[e] = a * colours[stack.stroke[e - 1]] + (1 - a) * below[e - 1]
    tgt = target.reshape(3, -1).T[stack.pixel]
    now = value[stack.pixel] - tgt
    after = now + stack.shown[:, None] * (below - colours[stack.stroke])
    return torch.zeros(n).index_add(0, stack.stroke, (after**2 - now**2).sum(1))


# ---------------------------------------------------------------- entry points


def _as_tensor(img: np.ndarray, canvas: Canvas, size: int, what: str) -> torch.Tensor:
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or min(img.shape[:2]) < 2:
        raise PainterError(f"{what} must be an (H, W, 3) uint8 image, got {img.shape} {img.dtype}")
    ppm = size / max(canvas.width_mm, canvas.height_mm)
    h, w = preview_size(canvas, ppm)
    t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float()[None] / 255.0
    t = F.interpolate(t, size=(h, w), mode="area" if img.shape[0] >= h else "bilinear")[0]
    return t.clamp(0.0, 1.0).contiguous()


def _target_tensor(target: np.ndarray, canvas: Canvas, size: int) -> tuple[torch.Tensor, float]:
    if size < 8:
        raise PainterError(f"size must be >= 8 px, got {size}")
    return _as_tensor(target, canvas, size, "target"), size / max(canvas.width_mm, canvas.height_mm)


def _schedule(config: PainterConfig, extent: float) -> list[tuple[int, float]]:
    """(count, reach px) per stage: counts grow and reach shrinks geometrically."""
    total = config.strokes
    stages = max(1, min(config.stages, total))
    weights = np.array([config.growth**s for s in range(stages)])
    # Every stage gets a stroke (the coarse ones matter most in a short painting), the
    # rest in proportion, rounding left to the finest stage.
    counts = np.maximum(1, np.floor(weights / weights.sum() * total)).astype(int)
    counts[-1] += total - counts.sum()
    for s in range(stages - 1, 0, -1):  # a few strokes, many stages: take from the finest
        if counts[s] < 1:
            counts[s - 1] += counts[s] - 1
            counts[s] = 1
    big, small = extent * config.coarsest, max(2.0, extent * config.finest)
    reaches = [big * (small / big) ** (s / max(1, stages - 1)) for s in range(stages)]
    return [(int(c), r) for c, r in zip(counts, reaches, strict=True) if c > 0]


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Run with `threads` torch threads (0/None: leave as is), restoring the caller's setting."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def paint(
    target: np.ndarray,
    canvas: Canvas,
    config: PainterConfig = PainterConfig(),
    palette: np.ndarray | None = None,
    progress: Progress | None = None,
    start: np.ndarray | None = None,
) -> PaintResult:
    """Fit `config.strokes` strokes to `target` ((H, W, 3) uint8, already at canvas aspect).

    `palette` ((k, 3) uint8) limits strokes to those paints; None lets every stroke pick
    its own colour. `start` ((H', W', 3) uint8, same aspect) is the canvas as it already
    is: the strokes are painted on top of it (default: a blank white canvas).
    `progress(n)` is called as optimiser iterations complete
    (`total_iterations(config, palette is not None)` in all).
    """
    if config.strokes < 1:
        raise PainterError(f"strokes must be >= 1, got {config.strokes}")
    paints = None
    if palette is not None:
        paints = np.asarray(palette)
        if paints.ndim != 2 or paints.shape[1] != 3 or len(paints) == 0:
            raise PainterError(f"palette must be (k, 3) RGB, got shape {paints.shape}")
    with _torch_threads(config.threads):
        with torch.no_grad():
            tgt, ppm = _target_tensor(target, canvas, config.size)
            base = (
                torch.ones_like(tgt)
                if start is None
                else _as_tensor(start, canvas, config.size, "start canvas")
            )
        groups, free = _fit(tgt, base, config, paints, progress)
        with torch.no_grad():
            rendered = _render(groups, base)
    return PaintResult(
        *_strokes(groups, canvas, tgt.shape[1:], ppm, paints),
        rendered=_uint8(rendered),
        free_rendered=None if free is None else _uint8(free),
        px_per_mm=ppm,
        iterations=total_iterations(config, paints is not None),
        target=_uint8(tgt),
    )


def total_iterations(config: PainterConfig, with_palette: bool) -> int:
    """How many optimiser iterations `paint` runs (for a progress bar)."""
    stages = len(_schedule(config, config.size))
    extra = config.palette_iterations if with_palette else 0
    stage, final = _iterations(config)
    return stages * stage + final + extra


def _iterations(config: PainterConfig) -> tuple[int, int]:
    """Iterations per stage and of the final refinement, grown for long paintings."""
    ref = config.reference_strokes
    grow = math.sqrt(config.strokes / ref) if ref and config.strokes > ref else 1.0
    return round(config.stage_iterations * grow), round(config.final_iterations * grow)


def _fit(
    tgt: torch.Tensor,
    base: torch.Tensor,
    config: PainterConfig,
    paints: np.ndarray | None,
    progress: Progress | None,
) -> tuple[list[_Group], torch.Tensor | None]:
    """Fitted stroke groups, and the free-colour rendering when a palette was snapped to."""
    gen = torch.Generator().manual_seed(config.seed)
    _, h, w = tgt.shape
    canvas = base
    groups: list[_Group] = []
    schedule = _schedule(config, max(h, w))
    stage_its, final_its = _iterations(config)
    for count, reach in schedule:
        with torch.no_grad():
            g = (_place_greedy(canvas, tgt, count, (reach, reach), gen, schedule[0][1],
                               config.candidates)
                 if config.candidates else _place(canvas, tgt, count, reach, gen, schedule[0][1]))
        # Coarse stages run at reduced resolution: big strokes do not need fine pixels.
        scale = 0.25 if reach > 24 else 0.5 if reach > 8 else 1.0
        scale = max(scale, min(1.0, 32 / min(h, w)))
        # Every stage refits all strokes so far: earlier strokes make room for the new
        # ones (fitting only the new group left ~2.5 dB to a final joint refinement).
        groups.append(g)
        _optimise(
            groups, groups, base, tgt, stage_its, config.lr, scale,
            progress=progress, bend=config.bend,
        )
        with torch.no_grad():
            _solve_colours(groups, base, tgt)
            canvas = _render(groups, base)
    rounds = max(1, min(config.rounds, final_its))
    for r in range(rounds):
        its = final_its // rounds + (r < final_its % rounds)
        _optimise(groups, groups, base, tgt, its, config.lr * 0.5, 1.0, progress=progress,
                  bend=config.bend)
        with torch.no_grad():
            _solve_colours(groups, base, tgt)
            if r < rounds - 1:
                groups = _respawn(
                    groups, base, tgt, (schedule[-1][1], schedule[len(schedule) // 2][1]), gen,
                    config.respawn_share, schedule[0][1], config.candidates,
                )
                _solve_colours(groups, base, tgt)
    free = None
    if paints is not None:
        table = torch.from_numpy(paints.astype(np.float32) / 255.0)
        with torch.no_grad():
            free = _render(groups, base)
            _assign_paints(groups, base, tgt, table)
        _optimise(
            groups,
            groups,
            base,
            tgt,
            config.palette_iterations,
            config.lr * 0.5,
            1.0,
            train_colour=False,
            progress=progress,
            bend=config.bend,
        )
        with torch.no_grad():
            _assign_paints(groups, base, tgt, table)
    return groups, free


def _uint8(img: torch.Tensor) -> np.ndarray:
    return (img.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _strokes(
    groups: list[_Group],
    canvas: Canvas,
    shape: tuple[int, int],
    ppm: float,
    paints: np.ndarray | None,
) -> tuple[tuple[Stroke, ...], tuple[Paint, ...]]:
    """Plan strokes (mm) and palette: the fixed paints, or each distinct stroke colour."""
    h, w = shape
    strokes: list[Stroke] = []
    colours: list[tuple[int, int, int]] = []
    index: dict[tuple[int, int, int], int] = {}
    if paints is not None:
        for rgb in paints:
            index.setdefault(tuple(int(v) for v in rgb), len(index))
        colours = list(index)
    with torch.no_grad():
        for g in groups:
            pts, radii = _polylines(g, h, w)
            rgb = torch.round(g.colour.clamp(0, 1) * 255).to(torch.int64).tolist()
            for p, r, c in zip(pts.tolist(), radii.tolist(), rgb, strict=True):
                key = tuple(c)
                if key not in index:
                    index[key] = len(index)
                    colours.append(key)
                top = max(r)
                # Rounding the pixel grid may overshoot the canvas by < 1 px: clamp.
                points = tuple(
                    (min(x / ppm, canvas.width_mm), min(y / ppm, canvas.height_mm), ri / top)
                    for (x, y), ri in zip(p, r, strict=True)
                )
                strokes.append(Stroke(index[key], 2.0 * top / ppm, points))
    names = "paint" if paints is not None else "colour"
    palette = tuple(Paint(f"{names}{i:03d}", rgb) for i, rgb in enumerate(colours))
    return tuple(strokes), palette


# ---------------------------------------------------------------- baseline


def greedy_paint(
    target: np.ndarray,
    canvas: Canvas,
    config: PainterConfig = PainterConfig(),
    candidates: int = 64,
) -> PaintResult:
    """Baseline without gradients: greedy random search, one stroke at a time.

    Each step draws `candidates` random strokes (size shrinking from coarse to fine like
    the optimiser's stages), gives each the mean target colour under it, and keeps the one
    that lowers the squared error most. Same stroke model and rasteriser as `paint`.
    """
    if config.strokes < 1 or candidates < 1:
        raise PainterError("strokes and candidates must be >= 1")
    with _torch_threads(config.threads), torch.no_grad():
        tgt, ppm = _target_tensor(target, canvas, config.size)
        group = _greedy(tgt, config, candidates)
        rendered = _render([group], torch.ones_like(tgt))
    return PaintResult(
        *_strokes([group], canvas, tgt.shape[1:], ppm, None),
        rendered=_uint8(rendered),
        free_rendered=None,
        px_per_mm=ppm,
        iterations=config.strokes,
        target=_uint8(tgt),
    )


def _greedy(tgt: torch.Tensor, config: PainterConfig, m: int) -> _Group:
    gen = torch.Generator().manual_seed(config.seed)
    _, h, w = tgt.shape
    extent = max(h, w)
    big, small = extent * 0.3, max(2.0, extent * 0.03)
    canvas = torch.ones_like(tgt)
    chosen: list[_Group] = []
    for step in range(config.strokes):
        reach = big * (small / big) ** (step / max(1, config.strokes - 1))
        centre = torch.rand(m, 2, generator=gen) * torch.tensor([w, h], dtype=tgt.dtype)
        theta = torch.rand(m, generator=gen) * math.pi
        length = reach * (0.3 + 0.7 * torch.rand(m, generator=gen))
        chord = torch.stack([torch.cos(theta), torch.sin(theta)], 1) * length[:, None]
        bend = (torch.rand(m, 2, generator=gen) - 0.5) * reach
        log_r = torch.log(reach / 2 * (0.2 + 0.8 * torch.rand(m, generator=gen)))
        cand = _Group.spine(
            centre,
            chord,
            bend,
            log_r[:, None].expand(m, 3).contiguous(),
            torch.zeros(m, 3),
            reach,
            max(1.0, reach / 2),
        )
        gain, cand.colour = _gains(cand, canvas, tgt)
        best = int(torch.argmax(gain))
        pick = cand.take(torch.tensor([best]))
        if gain[best] > 0:
            canvas = _render([pick], canvas)
            chosen.append(pick)
    if not chosen:
        raise PainterError("greedy search found no stroke that lowers the error")
    return _concat(chosen, big, max(1.0, big / 2))
