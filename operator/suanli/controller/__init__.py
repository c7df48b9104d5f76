"""The ComputeJob operator: kopf handlers over a pure, level-triggered lifecycle."""
