"""The published JSON schemas of the economy commands' `--json` output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).parent / "schemas"
SCHEMAS = {"wallet": "wallet.schema.json", "auction status": "auction-status.schema.json",
           "auction settle": "auction-settle.schema.json", "supplies": "supplies.schema.json",
           "investors": "investors.schema.json"}


def load_schema(command: str) -> dict[str, Any]:
    """The schema of one command's `--json` document (`wallet`, `auction status`, …)."""
    return json.loads((SCHEMA_DIR / SCHEMAS[command]).read_text())
