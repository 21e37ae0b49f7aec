"""Shared fixtures: the oracle module beside the tests, hypothesis trade streams, a trades lake."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
