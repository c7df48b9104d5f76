"""How far a node is trusted with data, read from labels real clusters carry.

Two sources: the trusted execution environments Node Feature Discovery finds on the host (its
`cpu-security` labels), and an administrator's own judgement in `suanli.dev/trust-level` (an
ordinal: higher is more trusted; what each level means is the site's to define). Neither is
proof; the data policy decides which of them each data class needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from suanli.keys import TRUST_LEVEL_LABEL

MAX_TRUST_LEVEL = 10
_SECURITY = "feature.node.kubernetes.io/cpu-security."


class Tee(StrEnum):
    """A trusted execution environment the host offers its guests."""

    TDX = "tdx"  # Intel Trust Domain Extensions
    SEV_SNP = "sev-snp"  # AMD SEV with Secure Nested Paging (memory integrity)
    SEV_ES = "sev-es"  # AMD SEV with encrypted register state
    SEV = "sev"  # AMD Secure Encrypted Virtualization (memory encryption only)
    SGX = "sgx"  # Intel Software Guard Extensions (enclaves)
    SE = "se"  # IBM Secure Execution (s390x)


# Node Feature Discovery's names: `sev.snp`, not `sev_snp`; each is "true" only when the host
# has the feature enabled, not merely supported by its CPU.
TEE_LABELS: Mapping[Tee, str] = {
    Tee.TDX: f"{_SECURITY}tdx.enabled",
    Tee.SEV_SNP: f"{_SECURITY}sev.snp.enabled",
    Tee.SEV_ES: f"{_SECURITY}sev.es.enabled",
    Tee.SEV: f"{_SECURITY}sev.enabled",
    Tee.SGX: f"{_SECURITY}sgx.enabled",
    Tee.SE: f"{_SECURITY}se.enabled",
}


def node_tees(labels: Mapping[str, str]) -> frozenset[Tee]:
    return frozenset(tee for tee, key in TEE_LABELS.items() if labels.get(key, "") == "true")


def trust_level(labels: Mapping[str, str]) -> int:
    """The node's `suanli.dev/trust-level`, 0..MAX_TRUST_LEVEL; 0 when absent or malformed
    (not a whole number in range), so that a typo never raises a node's trust."""
    text = labels.get(TRUST_LEVEL_LABEL, "").strip()
    if not text.isdigit() or int(text) > MAX_TRUST_LEVEL:
        return 0
    return int(text)
