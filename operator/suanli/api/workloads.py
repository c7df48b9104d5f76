"""What `spec.workload` selects: the default weights of the five score signals.

A job's own `policy.weights` win signal by signal; a signal it leaves unset takes its workload's
weight from this table. Pure data, rendered into docs/api.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from suanli.api.models import ComputeJobSpec, Workload

# The model owns the default (and the CRD carries it); named here for the table.
DEFAULT_WORKLOAD: Workload = ComputeJobSpec.model_fields["workload"].default
SIGNALS = ("accelerator", "hpc", "locality", "cost", "packing")

# Why each row leads with what it leads with:
# - training: the accelerator that fits best, then packing, so large gangs find whole nodes free;
# - inference: close to its users first, then a fitting accelerator, then the price;
# - hpc: interconnect, RDMA and same-domain packing first, then keep whole nodes free;
# - batch: cheap and dense, it waits for nothing;
# - edge: near its data above all.
WORKLOAD_WEIGHTS: Mapping[Workload, Mapping[str, float]] = MappingProxyType(
    {
        Workload.TRAINING: MappingProxyType(
            {"accelerator": 5, "hpc": 2, "locality": 1, "cost": 1, "packing": 4}
        ),
        Workload.INFERENCE: MappingProxyType(
            {"accelerator": 3, "hpc": 1, "locality": 5, "cost": 2, "packing": 1}
        ),
        Workload.HPC: MappingProxyType(
            {"accelerator": 2, "hpc": 5, "locality": 1, "cost": 1, "packing": 3}
        ),
        Workload.BATCH: MappingProxyType(
            {"accelerator": 2, "hpc": 1, "locality": 1, "cost": 4, "packing": 3}
        ),
        Workload.EDGE: MappingProxyType(
            {"accelerator": 2, "hpc": 1, "locality": 6, "cost": 1, "packing": 1}
        ),
    }
)


def job_weights(spec: ComputeJobSpec) -> dict[str, float]:
    """The weights the job's pods are scored with: its own where set, else its workload's."""
    given = (
        spec.policy.weights.model_dump(exclude_none=True)
        if spec.policy and spec.policy.weights
        else {}
    )
    return {
        signal: float(given.get(signal, WORKLOAD_WEIGHTS[spec.workload][signal]))
        for signal in SIGNALS
    }


def weights_table() -> str:
    """The table as Markdown, for docs/api.md."""
    lines = [
        "| workload | " + " | ".join(SIGNALS) + " |",
        "|---|" + "---|" * len(SIGNALS),
    ]
    for workload, weights in WORKLOAD_WEIGHTS.items():
        default = " (default)" if workload is DEFAULT_WORKLOAD else ""
        cells = " | ".join(f"{weights[s]:g}" for s in SIGNALS)
        lines.append(f"| `{workload.value}`{default} | {cells} |")
    return "\n".join(lines)
