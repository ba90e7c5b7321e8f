"""Stroke plan: JSON round trip, validation errors, preview, ordering, splitting."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vision.plan import (
    Canvas,
    Paint,
    Plan,
    PlanError,
    Source,
    Stroke,
    load_plan,
    order_strokes,
    pen_up_travel_mm,
    render_preview,
    save_plan,
    split_strokes,
    stroke_conflicts,
)

SHA = "ab" * 32
PALETTE = (Paint("black", (20, 20, 20)), Paint("red", (200, 30, 30)), Paint("blue", (30, 60, 200)))


def scattered_plan(n: int = 120, seed: int = 0, colours: int = 3) -> Plan:
    rng = np.random.default_rng(seed)
    strokes = []
    for _ in range(n):
        c = rng.uniform([30, 30], [470, 370])
        pts = np.clip(c + np.cumsum(rng.normal(0, 10, (4, 2)), 0), 0, [500, 400])
        strokes.append(
            Stroke(
                int(rng.integers(colours)),
                float(rng.uniform(2, 10)),
                tuple((x, y, float(rng.uniform(0.5, 1))) for x, y in pts),
            )
        )
    return Plan(
        Canvas(500, 400),
        PALETTE[:colours],
        tuple(strokes),
        Source(SHA, 64, 48),
        {"psnr_db": 21.5, "strokes": n, "mode": "paint"},
    )


def test_json_round_trip_preserves_everything(tmp_path):
    plan = scattered_plan(20)
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    again = load_plan(path)
    assert again == plan
    doc = json.loads(path.read_text())
    assert set(doc) == {"canvas", "palette", "strokes", "source", "metrics"}
    assert doc["strokes"][0]["points"][0] == list(plan.strokes[0].points[0])
    assert Plan.from_dict(plan.to_dict()) == plan


def _doc() -> dict:
    return scattered_plan(3).to_dict()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("canvas"), "missing field(s) canvas"),
        (lambda d: d["canvas"].update(width_mm=-5), "canvas.width_mm: must be > 0"),
        (lambda d: d["canvas"].update(height_mm="wide"), "expected a number"),
        (lambda d: d.update(palette=[]), "needs at least one paint"),
        (lambda d: d["palette"][0].update(rgb=[0, 0, 300]), "300 outside 0..255"),
        (lambda d: d["palette"][1].update(name="black"), "names must be unique"),
        (lambda d: d["strokes"][1].update(color=7), "strokes[1].color: index 7 outside"),
        (lambda d: d["strokes"][0].update(width_mm=0), "width_mm: must be > 0"),
        (lambda d: d["strokes"][2].update(points=[[1, 1, 1]]), "strokes[2]: stroke.points: needs"),
        (lambda d: d["strokes"][0]["points"][1].__setitem__(2, 1.5), "pressure 1.5 outside"),
        (lambda d: d["strokes"][0]["points"][0].__setitem__(0, 900), "outside the 500 x 400"),
        (lambda d: d["strokes"][0]["points"][0].__setitem__(1, float("nan")), "finite"),
        (lambda d: d["source"].update(sha256="xyz"), "64 lowercase hex"),
        (lambda d: d["source"].update(width_px=0), "source.width_px: must be > 0"),
        (lambda d: d.update(metrics=[1, 2]), "metrics: expected an object"),
        (lambda d: d.update(strokes={"a": 1}), "strokes: expected a list"),
    ],
)
def test_validation_names_the_bad_field(mutate, message):
    doc = _doc()
    mutate(doc)
    with pytest.raises(PlanError) as err:
        Plan.from_dict(doc)
    assert message in str(err.value)


def test_malformed_json_and_missing_file_are_plan_errors(tmp_path):
    with pytest.raises(PlanError, match="not valid JSON"):
        Plan.from_json("{not json")
    with pytest.raises(PlanError, match="expected an object"):
        Plan.from_json("[1, 2]")
    with pytest.raises(PlanError, match="cannot read plan"):
        load_plan(tmp_path / "missing.json")


def test_preview_draws_round_capped_strokes_of_width_times_pressure():
    stroke = Stroke(1, 20.0, ((20.0, 50.0, 1.0), (80.0, 50.0, 0.5)))
    plan = Plan(Canvas(100, 100), PALETTE, (stroke,), Source(SHA, 10, 10))
    img = render_preview(plan, 1.0)
    assert img.shape == (100, 100, 3) and img.dtype == np.uint8
    ink = (255.0 - img[:, :, 1]) / (255.0 - PALETTE[1].rgb[1])  # paint coverage 0..1
    assert ink[:, 20].sum() == pytest.approx(20, abs=0.5)  # full width at pressure 1
    assert ink[:, 80].sum() == pytest.approx(10, abs=0.5)  # half width at pressure 0.5
    assert ink[50, 11] > 0.99 and ink[50, 9] < 0.01  # round cap: r = 10 mm beyond the end
    assert (img[0, 0] == 255).all()  # white canvas elsewhere


def test_preview_composites_in_order():
    a = Stroke(0, 10.0, ((10.0, 10.0, 1.0), (40.0, 10.0, 1.0)))
    b = Stroke(1, 10.0, ((25.0, 0.0, 1.0), (25.0, 20.0, 1.0)))
    base = Plan(Canvas(50, 20), PALETTE, (a, b), Source(SHA, 10, 10))
    assert tuple(render_preview(base, 2.0)[20, 50]) == PALETTE[1].rgb
    assert tuple(render_preview(base.with_strokes([b, a]), 2.0)[20, 50]) == PALETTE[0].rgb


def test_ordering_cuts_travel_and_keeps_the_painting():
    plan = scattered_plan(150)
    ordered = order_strokes(plan)
    assert sorted(s.color for s in ordered.strokes) == sorted(s.color for s in plan.strokes)
    assert len(ordered.strokes) == len(plan.strokes)
    assert pen_up_travel_mm(plan) / pen_up_travel_mm(ordered) >= 3.0
    # Overlapping strokes of different paints kept their order: same picture.
    for ppm in (0.3, 1.0):
        assert np.array_equal(render_preview(plan, ppm), render_preview(ordered, ppm))


def test_conflicts_are_overlapping_pairs_of_different_paint():
    left = Stroke(0, 4.0, ((10.0, 10.0, 1.0), (30.0, 10.0, 1.0)))
    across = Stroke(1, 4.0, ((20.0, 0.0, 1.0), (20.0, 20.0, 1.0)))
    same = Stroke(0, 4.0, ((15.0, 5.0, 1.0), (15.0, 15.0, 1.0)))
    far = Stroke(1, 4.0, ((90.0, 90.0, 1.0), (95.0, 95.0, 1.0)))
    plan = Plan(Canvas(100, 100), PALETTE, (left, across, same, far), Source(SHA, 1, 1))
    c = stroke_conflicts(plan).toarray()
    assert c[0, 1] and c[1, 0]  # crossing, different paint
    assert not c[0, 2]  # crossing, same paint: order is free
    assert not c[0, 3] and not c[1, 3]  # far apart


def test_split_strokes_bounds_length_and_points_without_changing_ink():
    plan = scattered_plan(30)
    long = Stroke(0, 5.0, tuple((10.0 + i * 4.0, 200.0, 1.0) for i in range(100)))
    plan = plan.with_strokes([*plan.strokes, long])
    split = split_strokes(plan, max_length_mm=50.0, max_points=10)
    assert all(s.length_mm() <= 50.0 + 1e-6 for s in split.strokes)
    assert all(len(s.points) <= 10 for s in split.strokes)
    assert sum(s.length_mm() for s in split.strokes) == pytest.approx(
        sum(s.length_mm() for s in plan.strokes)
    )
    diff = np.abs(render_preview(split, 1.0).astype(int) - render_preview(plan, 1.0))
    assert (diff.max(axis=2) > 0).mean() < 0.01  # only anti-aliased pixels at the joins
    with pytest.raises(PlanError):
        split_strokes(plan, max_points=1)
