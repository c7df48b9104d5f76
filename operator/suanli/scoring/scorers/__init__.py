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

# The signals that read a node's usage; the others depend on its facts (and the job's peers)
# only, so they are the same for every node of a class.
USAGE_SIGNALS = frozenset({"packing"})

__all__ = ["SCORERS", "USAGE_SIGNALS", "Scorer", "Signal"]
