"""The benchmark scripts import their sibling modules by name, as `python bench/x.py` allows."""

import sys
from pathlib import Path

BENCH = str(Path(__file__).resolve().parents[3] / "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)
