"""Explanations of decisions, for people: what goes on the pod and into its Events.

Pure functions of a `Decision`; the recorder writes what they return.
"""

from __future__ import annotations

import json
from typing import Any

from suanli.scoring import (
    Allocation,
    Classification,
    DataPolicy,
    DataRule,
    NodeFacts,
    format_allocation,
)
from suanli.state import Choice


def _rounded(breakdown: dict[str, float]) -> dict[str, float]:
    return {signal: round(value, 3) for signal, value in breakdown.items()}


def data_record(
    classification: Classification, policy: DataPolicy, rule: DataRule, facts: NodeFacts
) -> dict[str, str]:
    """Which rule of which policy let sensitive data onto the node, and what the node showed."""
    return {
        "classification": classification.value,
        "policy": policy.name,
        "rule": rule.name,
        "basis": rule.basis(facts),
    }


def placement(
    decision: Choice | None,
    node: str,
    runners_up: int,
    devices: Allocation = (),
    data: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The chosen node (and devices), its score and per-signal breakdown, the best other
    candidates, and for sensitive data the policy's rule that allowed the node."""
    where: dict[str, Any] = {"node": node}
    if devices:
        where["devices"] = format_allocation(devices)
    if data:
        where["data"] = data
    chosen = decision.result(node) if decision is not None else None
    if decision is None or chosen is None or chosen.breakdown is None:
        return where
    others = [(n, score) for n, score in decision.top if n != node][:runners_up]
    return {
        **where,
        "score": chosen.score,
        "breakdown": _rounded(chosen.breakdown.as_dict()),
        "runnersUp": [{"node": n, "score": score} for n, score in others],
        "feasibleNodes": decision.feasible,
        "candidateNodes": decision.candidates,
    }


def placement_annotation(explanation: dict[str, Any]) -> str:
    return json.dumps(explanation, separators=(",", ":"), sort_keys=True)


def placement_message(explanation: dict[str, Any]) -> str:
    """`placed on h100-use1-0 (score 9; accelerator 1.0, hpc 0.8, ...); runners-up: a (8), b (7)`"""
    node = explanation["node"]
    if "devices" in explanation:
        node = f"{node} (devices {explanation['devices']})"
    data = explanation.get("data")
    allowed = (
        f"; {data['classification']} data allowed by data policy {data['policy']} rule "
        f"{data['rule']} ({data['basis']})"
        if data
        else ""
    )
    if "score" not in explanation:
        return f"placed on {node}{allowed}"
    signals = ", ".join(f"{k} {v:g}" for k, v in explanation["breakdown"].items())
    text = f"placed on {node} (score {explanation['score']}; {signals})"
    runners = explanation["runnersUp"]
    if runners:
        text += "; runners-up: " + ", ".join(f"{r['node']} ({r['score']})" for r in runners)
    fit = f"{explanation['feasibleNodes']} of {explanation['candidateNodes']} nodes fit"
    return f"{text}; {fit}{allowed}"


def unschedulable_message(decision: Choice) -> str:
    """`0/50 nodes fit: 46 nodes: accelerator type not in [H100]; 4 nodes: insufficient ...`"""
    return f"0/{decision.candidates} nodes fit: {decision.unschedulable_reason}"
