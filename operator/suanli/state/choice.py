"""What a decision answers: the candidates by group, the best nodes, and why the others do not
fit, with per-name views built only when asked for."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import compress
from operator import itemgetter
from typing import Any, cast

from suanli.scoring import NodeResult, Outcome
from suanli.scoring.combine import tie_rank
from suanli.scoring.verdict import format_reason_counts

_SECOND: Callable[[tuple[str, str | None]], Any] = itemgetter(1)


class Listed:
    """Candidates named in a request: each name with its group, in request order."""

    def __init__(self, names: Sequence[str], groups: Sequence[Hashable]) -> None:
        self.names = names
        self.groups = groups
        self.sizes: Mapping[Hashable, int] = Counter(groups)
        self.count = len(names)

    def representatives(self) -> dict[Hashable, str]:
        return dict(zip(self.groups, self.names, strict=True))

    def members(self, chosen: set[Hashable]) -> list[tuple[str, Hashable]]:
        inside = list(map(chosen.__contains__, self.groups))
        return list(zip(compress(self.names, inside), compress(self.groups, inside), strict=True))

    def by_name(self, values: Mapping[Hashable, str]) -> dict[str, str]:
        """Name -> value for the names whose group has one (values are never empty)."""
        if not values:
            return {}
        # Filtering on truth keeps the whole loop in C: the one part that grows with the fleet.
        pairs = filter(_SECOND, zip(self.names, map(values.get, self.groups), strict=True))
        return dict(cast(Iterator[tuple[str, str]], pairs))


class Everyone:
    """Every node of the state, by usage state (a copy: the state may change afterwards)."""

    def __init__(self, members: Mapping[int, set[str]]) -> None:
        self._members: dict[Hashable, tuple[str, ...]] = {g: tuple(m) for g, m in members.items()}
        self.sizes: Mapping[Hashable, int] = {g: len(m) for g, m in self._members.items()}
        self.count = sum(self.sizes.values())

    def representatives(self) -> dict[Hashable, str]:
        return {g: m[0] for g, m in self._members.items()}

    def members(self, chosen: set[Hashable]) -> list[tuple[str, Hashable]]:
        return [(n, g) for g in chosen for n in self._members[g]]

    def by_name(self, values: Mapping[Hashable, str]) -> dict[str, str]:
        return {n: v for g, v in values.items() for n in self._members[g]}


Candidates = Listed | Everyone


@dataclass(frozen=True)
class Choice:
    """One decision: the best feasible nodes with full results, and why the others do not fit."""

    candidates: int  # known nodes judged
    ranked: tuple[NodeResult, ...]  # full results of the best `detail` nodes, best first
    feasible: int | None  # how many candidates fit; None: not counted (best nodes only)
    unknown: tuple[str, ...] = ()  # names the state does not know
    # The best `keep` feasible nodes with their scores (the ranked ones first).
    top: tuple[tuple[str, int], ...] = ()
    # The candidates by group, (score, total) per feasible group, the reason per failed one.
    _judged: Candidates = field(default_factory=lambda: Listed((), ()), repr=False)
    _totals: Mapping[Hashable, tuple[int, float]] = field(default_factory=dict, repr=False)
    _reasons: Mapping[Hashable, tuple[Outcome, str]] = field(default_factory=dict, repr=False)
    # False when only the best were scored exactly (the decider's complete=False).
    complete: bool = True

    def summary(self) -> Choice:
        """The same best nodes, counts and results, without the per-node verdicts (small enough
        to keep around, e.g. between a filter and its bind)."""
        return Choice(
            self.candidates, self.ranked, self.feasible, self.unknown, self.top, complete=False
        )

    @property
    def ranking(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.top)

    def result(self, node: str) -> NodeResult | None:
        return next((r for r in self.ranked if r.node == node), None)

    @cached_property
    def failed(self) -> dict[str, str]:
        """Resolvable: node -> reason category."""
        self._need_verdicts()
        return self._judged.by_name(self._reasons_of(Outcome.RESOLVABLE))

    @cached_property
    def unresolvable(self) -> dict[str, str]:
        self._need_verdicts()
        return self._judged.by_name(self._reasons_of(Outcome.UNRESOLVABLE))

    def failed_counts(self) -> tuple[int, int]:
        """How many candidates do not fit, (resolvable, unresolvable), without naming them."""
        self._need_verdicts()
        sizes = self._judged.sizes
        counts = Counter({Outcome.RESOLVABLE: 0, Outcome.UNRESOLVABLE: 0})
        for group, (outcome, _) in self._reasons.items():
            counts[outcome] += sizes[group]
        return counts[Outcome.RESOLVABLE], counts[Outcome.UNRESOLVABLE]

    def _reasons_of(self, outcome: Outcome) -> dict[Hashable, str]:
        return {g: reason for g, (o, reason) in self._reasons.items() if o is outcome}

    def scores(self) -> dict[str, int]:
        """The 0..10 score of every feasible candidate."""
        self._need_complete()
        return {n: self._totals[g][0] for n, g in self._judged.members(set(self._totals))}

    def feasible_names(self) -> tuple[str, ...]:
        """Every feasible candidate, best first (the reference ranking)."""
        self._need_complete()
        return tuple(n for n, _ in ranked_names(self._judged, self._totals, self.feasible or 0))

    def _need_complete(self) -> None:
        if not self.complete:
            raise ValueError("this decision scored only its best nodes; decide complete=True")

    def _need_verdicts(self) -> None:
        if self.feasible is None:
            raise ValueError("this decision judged only what could be best; decide complete=True")

    @property
    def unschedulable_reason(self) -> str:
        """Empty when some node fits; else the aggregated filter reasons."""
        if self.ranked or self.feasible:
            return ""
        self._need_verdicts()
        counts: Counter[str] = Counter()
        sizes = self._judged.sizes
        for group, (_, reason) in self._reasons.items():
            counts[reason] += sizes[group]
        return format_reason_counts(counts)


def ranked_names(
    judged: Candidates, totals: Mapping[Hashable, tuple[int, float]], limit: int
) -> tuple[tuple[str, Hashable], ...]:
    """The first `limit` names (with their groups) by (score, total, tie rank, name), reading
    only the groups that can be among them."""
    if limit <= 0 or not totals:
        return ()
    sizes = judged.sizes
    best = sorted(totals, key=lambda g: (-totals[g][0], -totals[g][1]))
    chosen: set[Hashable] = set()
    counted = 0
    for index, group in enumerate(best):
        chosen.add(group)
        counted += sizes[group]
        following = best[index + 1] if index + 1 < len(best) else None
        # Stop once enough names are in, but never between two groups of equal totals.
        if counted >= limit and (following is None or totals[following] != totals[group]):
            break
    # Members by the totals of their group; within equal totals the least tie ranks first,
    # read from a heap: a large class of equal nodes (hundreds of idle edge or cpu nodes) is
    # never sorted whole for the few names asked.
    tied: dict[tuple[int, float], list[tuple[str, Hashable]]] = {}
    for member in judged.members(chosen):
        tied.setdefault(totals[member[1]], []).append(member)
    picked: list[tuple[str, Hashable]] = []
    for key in sorted(tied, key=lambda t: (-t[0], -t[1])):
        picked += heapq.nsmallest(limit - len(picked), tied[key], key=_by_tie_rank)
        if len(picked) >= limit:
            break
    return tuple(picked)


def _by_tie_rank(member: tuple[str, Hashable]) -> tuple[int, str]:
    return tie_rank(member[0]), member[0]
