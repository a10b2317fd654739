"""Label-cardinality caps of the ``/metrics`` export: per service, and per family overall.

Series are kept in sorted label order, so the exported subset is stable from scrape to
scrape. In a family labelled by service (its first label), each service keeps at most
``per_service`` series; if the family still has more than ``per_metric``, the overall cap
is shared fairly: every service gets an equal share and services that need less leave
the rest to the others (water-filling). So a service that floods the export (one grid
search's every estimator and feature) cannot leave the others without series, whatever
their names sort like. Every series left out is counted against its service.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

Labels = tuple[str, ...]
Series = dict[Labels, float]


@dataclass(frozen=True)
class Capped:
    """What a family exports and what it leaves out."""

    kept: list[Labels]
    """Label values of the exported series, sorted."""
    dropped: Counter[str] = field(default_factory=Counter)
    """Series left out, by service ("" in families without a service label)."""


def cap_series(series: Series, per_metric: int, per_service: int | None = None) -> Capped:
    """The series of one family that fit the caps; ``per_service`` None: the family has
    no service label, only the overall cap applies."""
    ordered = sorted(series)
    if len(ordered) <= per_metric and (per_service is None or len(ordered) <= per_service):
        return Capped(ordered)
    if per_service is None:
        return Capped(ordered[:per_metric], Counter({"": len(ordered) - per_metric}))
    by_service: dict[str, list[Labels]] = {}
    for labels in ordered:
        by_service.setdefault(labels[0], []).append(labels)
    wanted = {service: min(len(rows), per_service) for service, rows in by_service.items()}
    quotas = fair_shares(wanted, per_metric)
    kept: list[Labels] = []
    dropped: Counter[str] = Counter()
    for service, rows in by_service.items():
        quota = quotas[service]
        kept += rows[:quota]
        if len(rows) > quota:
            dropped[service] = len(rows) - quota
    kept.sort()
    return Capped(kept, dropped)


def fair_shares(wanted: dict[str, int], total: int) -> dict[str, int]:
    """Split ``total`` among the keys: each gets what it wants if all wants fit, else an
    equal share, with what small wants leave over shared among the larger ones."""
    shares: dict[str, int] = {}
    remaining = total
    ranked = sorted(wanted.items(), key=lambda item: (item[1], item[0]))
    for index, (key, want) in enumerate(ranked):
        share = min(want, remaining // (len(ranked) - index))
        shares[key] = share
        remaining -= share
    return shares
