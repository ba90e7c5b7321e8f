"""The torch stroke painter: deterministic, faithful to its own preview, palette-aware."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vision.metrics import psnr
from vision.painter import PainterConfig, PainterError, greedy_paint, paint, total_iterations
from vision.pipeline import fitted_target
from vision.plan import Canvas, Plan, Source, render_preview
from vision.preprocess import load_image

from .conftest import ASSET

ROOT = Path(__file__).resolve().parents[2]
CANVAS = Canvas(400.0, 300.0)
TINY = PainterConfig(
    strokes=16, size=40, stages=3, stage_iterations=12, final_iterations=6, palette_iterations=6
)


@pytest.fixture(scope="module")
def target() -> np.ndarray:
    img, _ = fitted_target(load_image(ASSET), CANVAS, TINY.size)
    return img


def _plan(res) -> Plan:
    return Plan(CANVAS, res.palette, res.strokes, Source("0" * 64, 1, 1))


def test_same_seed_same_strokes_other_seed_other_strokes(target):
    a = paint(target, CANVAS, TINY)
    b = paint(target, CANVAS, TINY)
    c = paint(target, CANVAS, PainterConfig(**{**TINY.__dict__, "seed": 1}))
    assert a.strokes == b.strokes and a.palette == b.palette
    assert np.array_equal(a.rendered, b.rendered)
    assert a.strokes != c.strokes


def test_preview_of_the_plan_is_what_the_optimiser_rendered(target):
    res = paint(target, CANVAS, TINY)
    assert len(res.strokes) == TINY.strokes
    preview = render_preview(_plan(res), res.px_per_mm)
    assert preview.shape == res.rendered.shape == target.shape
    assert np.abs(preview.astype(int) - res.rendered).max() <= 2  # colour rounding only


def test_optimiser_beats_blank_canvas_and_greedy_baseline(target):
    white = np.full_like(target, 255)
    res = paint(target, CANVAS, TINY)
    base = greedy_paint(target, CANVAS, TINY, candidates=16)
    assert psnr(target, res.rendered) > psnr(target, white) + 5
    assert psnr(target, res.rendered) > psnr(target, base.rendered)
    preview = render_preview(_plan(base), base.px_per_mm)
    assert np.abs(preview.astype(int) - base.rendered).max() <= 2


def test_palette_mode_uses_only_the_paints_and_reports_free_rendering(target):
    paints = np.array([[20, 20, 20], [230, 230, 230], [180, 120, 60]], np.uint8)
    ticks: list[int] = []
    res = paint(target, CANVAS, TINY, palette=paints, progress=ticks.append)
    assert [p.rgb for p in res.palette] == [tuple(int(v) for v in c) for c in paints]
    assert {s.color for s in res.strokes} <= {0, 1, 2}
    assert res.free_rendered is not None
    assert psnr(target, res.free_rendered) >= psnr(target, res.rendered) - 0.5
    assert sum(ticks) == total_iterations(TINY, with_palette=True)


def test_bad_inputs_are_painter_errors(target):
    with pytest.raises(PainterError, match="strokes must be >= 1"):
        paint(target, CANVAS, PainterConfig(strokes=0))
    with pytest.raises(PainterError, match="uint8"):
        paint(target.astype(float), CANVAS, TINY)
    with pytest.raises(PainterError, match="palette"):
        paint(target, CANVAS, TINY, palette=np.zeros((3, 4), np.uint8))


def test_painting_on_top_of_a_canvas_fills_what_is_missing(target):
    """Start from the target with a white hole: new strokes go into the hole, the rest of
    the start canvas stays as it was, and the error drops."""
    start = target.copy()
    h, w = start.shape[:2]
    hole = (slice(h // 4, h // 2), slice(w // 4, w // 2))
    start[hole] = 255
    res = paint(target, CANVAS, PainterConfig(**{**TINY.__dict__, "strokes": 6}), start=start)
    assert len(res.strokes) == 6
    assert psnr(target, res.rendered) > psnr(target, start) + 1.0
    centres = np.array([np.mean(s.array()[:, :2], axis=0) * res.px_per_mm for s in res.strokes])
    inside = ((centres[:, 0] > w / 4 - 3) & (centres[:, 0] < w / 2 + 3)
              & (centres[:, 1] > h / 4 - 3) & (centres[:, 1] < h / 2 + 3))
    assert inside.mean() >= 0.5
    blank = paint(target, CANVAS, PainterConfig(**{**TINY.__dict__, "strokes": 6}))
    assert psnr(target, res.rendered) > psnr(target, blank.rendered)  # the start counted


def test_colours_are_the_least_squares_optimum(target):
    """Closed-form colours: no small change of any stroke's colour lowers the error."""
    import vision.painter as painter

    tgt, _ = painter._target_tensor(target, CANVAS, TINY.size)
    groups = [painter._place(torch.ones_like(tgt), tgt, 5, 8.0, torch.Generator().manual_seed(1))]
    painter._solve_colours(groups, torch.ones_like(tgt), tgt)

    def err() -> float:
        return float(((painter._render(groups, torch.ones_like(tgt)) - tgt) ** 2).sum())

    best = err()
    for i in range(5):
        for c in range(3):
            for step in (-0.02, 0.02):
                old = groups[0].colour[i, c].item()
                if 0.0 <= old + step <= 1.0:
                    groups[0].colour[i, c] = old + step
                    assert err() >= best - 1e-4
                    groups[0].colour[i, c] = old


def _random_groups(gen: torch.Generator, h: int, w: int, dtype=torch.float32) -> list:
    """Three groups of overlapping wavy strokes, some reaching past the canvas edge."""
    import vision.painter as painter

    groups = []
    for n, reach in ((3, 12.0), (6, 6.0), (8, 3.0)):
        centre = torch.rand(n, 2, generator=gen, dtype=dtype) * torch.tensor([w, h], dtype=dtype)
        groups.append(painter._Group(
            centre,
            (torch.rand(n, 2, generator=gen, dtype=dtype) - 0.5) * 2 * reach,
            (torch.rand(n, 2, generator=gen, dtype=dtype) - 0.5) * reach,
            torch.log(0.6 + torch.rand(n, 3, generator=gen, dtype=dtype) * reach / 2),
            torch.rand(n, 3, generator=gen, dtype=dtype),
            (torch.rand(n, painter.SAMPLES, 2, generator=gen, dtype=dtype) - 0.5) * reach,
            reach=reach,
            max_r=reach / 2,
        ))
    return groups


def test_stacked_compositing_matches_the_plan_preview():
    """The vectorised rasteriser paints random overlapping strokes (some off the canvas)
    as `render_preview`, an independent per-stroke rasteriser, draws the exported plan."""
    import vision.painter as painter

    h, w = 30, 40
    groups = _random_groups(torch.Generator().manual_seed(3), h, w)
    with torch.no_grad():
        out = painter._render(groups, torch.ones(3, h, w))
        strokes, palette = painter._strokes(groups, CANVAS, (h, w), w / CANVAS.width_mm, None)
    plan = Plan(CANVAS, palette, strokes, Source("0" * 64, 1, 1))
    preview = render_preview(plan, w / CANVAS.width_mm)
    assert np.abs(preview.astype(int) - painter._uint8(out).astype(int)).max() <= 2


def test_stacked_compositing_gradient_matches_finite_differences():
    import vision.painter as painter

    h, w = 24, 24
    gen = torch.Generator().manual_seed(5)
    groups = _random_groups(gen, h, w, torch.float64)
    target = torch.rand(3, h, w, generator=gen, dtype=torch.float64)
    background = torch.ones(3, h, w, dtype=torch.float64)

    def loss() -> torch.Tensor:
        return ((painter._render(groups, background) - target) ** 2).sum()

    params = [p for g in groups for p in g.params()]
    for p in params:
        p.requires_grad_(True)
    grads = torch.autograd.grad(loss(), params)
    checked = 0
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            for k in range(0, p.numel(), 5):
                old = p.view(-1)[k].item()
                p.view(-1)[k] = old + 1e-6
                up = float(loss())
                p.view(-1)[k] = old - 1e-6
                down = float(loss())
                p.view(-1)[k] = old
                fd = (up - down) / 2e-6
                assert abs(fd - g.view(-1)[k].item()) <= 1e-4 + 1e-3 * abs(fd)
                checked += abs(fd) > 1e-3
    assert checked > 20  # the check saw real gradients, not only zeros


def test_removal_cost_is_the_error_a_dropped_stroke_leaves():
    """The per-stroke removal cost from the stacks equals re-rendering without the stroke."""
    import vision.painter as painter

    h, w = 30, 40
    gen = torch.Generator().manual_seed(7)
    groups = _random_groups(gen, h, w)
    target = torch.rand(3, h, w, generator=gen)
    background = torch.ones(3, h, w)
    with torch.no_grad():
        cost = painter._removal_cost(groups, background, target)

        def err(gs: list) -> float:
            return float(((painter._render(gs, background) - target) ** 2).sum())

        full = err(groups)
        dropped = []
        for gi, g in enumerate(groups):
            for j in range(len(g)):
                rest = g.take(torch.tensor([k for k in range(len(g)) if k != j]))
                dropped.append(err([*groups[:gi], rest, *groups[gi + 1:]]) - full)
    assert torch.allclose(cost, torch.tensor(dropped), atol=1e-3)
    assert (cost.abs() > 1e-2).sum() > 10  # most strokes matter: the check is not all zeros


def test_greedy_placement_beats_error_weighted_random_placement(target):
    """Strokes picked as the best of several candidates lower the error more than as many
    strokes drawn at random where the error is largest (colours solved for both)."""
    import vision.painter as painter

    tgt, _ = painter._target_tensor(target, CANVAS, TINY.size)
    blank = torch.ones_like(tgt)

    def err(place) -> float:
        groups = [place(blank, tgt, 8, 6.0, torch.Generator().manual_seed(2))]
        painter._solve_colours(groups, blank, tgt)
        return float(((painter._render(groups, blank) - tgt) ** 2).sum())

    with torch.no_grad():
        greedy = err(lambda c, t, n, r, g: painter._place_greedy(c, t, n, (r, r), g, 0.0, 16))
        random = err(painter._place)
    assert greedy < 0.9 * random


def test_segment_search_matches_brute_force():
    """The compiled search finds, for every window pixel, the same deepest r - d and a
    segment reaching it as array code over every segment and pixel (in float64)."""
    import vision.painter as painter
    from vision.segments import MARGIN, deepest

    rng = np.random.default_rng(11)
    n, samples, size = 7, 9, 40
    pts = (rng.random((n, samples, 2)) * 30 + 5).astype(np.float32)
    radius = (0.5 + rng.random((n, samples)) * 4).astype(np.float32)
    origin = rng.integers(-3, 4, (n, 2))
    best, seg = deepest(pts, radius, origin, size)
    with torch.no_grad():
        xs = torch.from_numpy(origin[:, 0, None] + np.arange(size))[:, None, None, :] + 0.5
        ys = torch.from_numpy(origin[:, 1, None] + np.arange(size))[:, None, :, None] + 0.5
        p, r = torch.from_numpy(pts).double(), torch.from_numpy(radius).double()
        cut = (slice(None), slice(None), None, None)
        every = painter._inside(p[:, :-1][cut], p[:, 1:][cut], r[:, :-1][cut], r[:, 1:][cut],
                                xs, ys).numpy()  # (n, segments, size, size)
    reach = every.max(axis=1) > -MARGIN + 1.0  # within a segment's radius + 0.5 px
    assert reach.sum() > 1000  # the strokes cover a good share of the windows
    assert np.allclose(best[reach], every.max(axis=1)[reach], atol=1e-4)
    # The segment it names is one of the deepest (at a joint two are, up to rounding).
    chosen = np.take_along_axis(every, seg[:, None], axis=1)[:, 0]
    assert np.allclose(chosen[reach], every.max(axis=1)[reach], atol=1e-4)
    assert np.all(best[~reach] < -0.5 + 1e-4)  # what the search skips is not covered


def test_kink_penalty_straightens_strokes(target):
    """With the kink penalty the strokes zigzag less, measured on the plan the robot gets."""

    def kinks(res) -> float:
        total = []
        for s in res.strokes:
            xy = np.array([pt[:2] for pt in s.points])
            total.append((np.linalg.norm(xy[:-2] - 2 * xy[1:-1] + xy[2:], axis=1)
                          / s.width_mm).mean())
        return float(np.mean(total))

    free = paint(target, CANVAS, PainterConfig(**{**TINY.__dict__, "bend": 0.0}))
    bent = paint(target, CANVAS, PainterConfig(**{**TINY.__dict__, "bend": 1e-2}))
    assert kinks(bent) < 0.7 * kinks(free)


def test_segment_search_works_where_numba_cannot_cache(tmp_path):
    """With no writable cache location (a service user, read-only install, no home) the
    search is compiled in memory instead of failing at import."""
    script = (
        "import numba.core.caching as caching\n"
        "caching.CacheImpl._locator_classes = []  # no place to cache: as a service user\n"
        "import numpy as np\n"
        "from vision.segments import deepest\n"
        "pts = np.array([[[2.0, 2.0], [8.0, 3.0]]], dtype=np.float32)\n"
        "best, seg = deepest(pts, np.full((1, 2), 1.5, np.float32), np.zeros((1, 2), int), 12)\n"
        "print(int((best > -0.5).sum()))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout) > 20  # the capsule covers pixels
