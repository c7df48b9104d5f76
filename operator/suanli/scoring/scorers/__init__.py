"""One pure scorer per signal; each returns a value in [0, 1] and a short explanation."""

from suanli.scoring.scorers import accelerator, cost, hpc, locality, packing
from suanli.scoring.scorers.signal import Scorer, Signal

# Signal name -> scorer, in the order breakdowns list them.
SCORERS: tuple[tuple[str, Scorer], ...] = (
    ("accelerator", accelerator.score),
    ("hpc", hpc.score),
    ("locality", locality.score),
    ("cost", cost.score),
    ("packing", packing.score),
)

__all__ = ["SCORERS", "Scorer", "Signal"]
