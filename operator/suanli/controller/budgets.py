"""Budgets at the operator: every accounting interval, charge each budgeted ComputeQueue for
what its running jobs cost since the last time (recorded in the queue's status, so restarts
lose nothing), and stop running jobs when the period's money would run out before the next
accounting. Admission itself checks budgets in the quota book (`suanli.queueing`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from suanli.controller.quota_gate import ACCOUNTING_SECONDS, QuotaGate, merge_status
from suanli.queueing import Holder
from suanli.queueing.budget import SpendState, budget_victims, charged


class BudgetKeeper:
    def __init__(self, gate: QuotaGate) -> None:
        self.gate = gate

    async def account(self, now: dt.datetime) -> None:
        """Charge each budgeted queue for what ran since the last accounting, and stop its
        running jobs when the period's money would run out before the next one."""
        for name, spec in list(self.gate.board.specs.items()):
            budget = spec.budget
            if budget is None or budget.spend is None:
                continue
            body = self.gate.board.bodies.get(name) or {}
            status = dict(body.get("status") or {})
            running = self._running(name)
            price = sum(each for _, each in running)
            spend = charged(_spend_state(status.get("spend")), now, budget.spend.seconds, price)
            victims = budget_victims(
                running, spend.spent, budget.spend.limit, ACCOUNTING_SECONDS / 3600
            )
            message = (
                f"queue {name} has spent {spend.spent:.2f} of its {budget.spend.limit:g} USD "
                f"budget for {budget.spend.period}: stopped until the next period"
            )
            for victim in victims:
                await self.gate.preempt(victim, "BudgetExhausted", message, now)
                price -= dict((h.key, each) for h, each in running)[victim.key]
            status["spend"] = {
                "periodStart": spend.period_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "spent": round(spend.spent, 6),
                "pricePerHour": round(max(0.0, price), 6),
                "accountedAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            await self.gate.patch_queue_status(name, {"spend": status["spend"]})
            merge_status(self.gate.board.bodies.get(name), {"spend": status["spend"]})
        if any(s.budget and s.budget.spend for s in self.gate.board.specs.values()):
            # A new period, or money freed by stopped jobs: the waiting jobs may fit now.
            for key, body in self.gate.jobs.items():
                if (body.get("status") or {}).get("phase") == "Queued":
                    self.gate.enqueue(key)

    def _running(self, queue: str) -> list[tuple[Holder, float]]:
        """The queue's admitted jobs with their price per hour now (from their status)."""
        found = []
        for key, body in self.gate.jobs.items():
            holder = self.gate.board.holder(key, body)
            if holder is not None and holder.charge.queue == queue:
                price = float((body.get("status") or {}).get("pricePerHour") or 0.0)
                found.append((holder, price))
        return found


def _spend_state(recorded: Mapping[str, Any] | None) -> SpendState | None:
    if not recorded:
        return None
    return SpendState(
        _time(str(recorded["periodStart"])),
        float(recorded.get("spent") or 0.0),
        float(recorded.get("pricePerHour") or 0.0),
        _time(str(recorded["accountedAt"])),
    )


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
