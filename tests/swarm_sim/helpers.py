"""Helpers shared by the swarm tests."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any


def same(a: Any, b: Any) -> bool:
    """Field-by-field equality of results where NaN equals NaN (undecided runs)."""
    return json.dumps(asdict(a), sort_keys=True) == json.dumps(asdict(b), sort_keys=True)
