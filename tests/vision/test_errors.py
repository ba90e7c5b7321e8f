"""Vision's exceptions live in vision/errors.py, under the project's root error."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import vision
from gaka.errors import GakaError
from vision.errors import VisionError


def test_every_vision_exception_is_a_vision_error_from_one_module():
    found = set()
    for info in pkgutil.iter_modules(vision.__path__):
        module = importlib.import_module(f"vision.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__.startswith("vision"):
                assert cls.__module__ == "vision.errors", cls
                assert issubclass(cls, VisionError) or cls is VisionError, cls
                found.add(cls.__name__)
    assert issubclass(VisionError, GakaError)
    assert {"ImageError", "CaptureError", "PlanError", "MetricError", "PainterError"} <= found
