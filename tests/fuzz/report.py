"""What a fuzz run found: counts per transport and category, saved reproducers, memory,
canary results, and the goals (0 crashes, 0 hangs, 0 5xx, RSS growth <= 10 %, every
valid span sent between batches queryable)."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

RSS_GOAL: Final = 0.10
CATEGORIES: Final = (
    "ok",
    "4xx",
    "retry",
    "grpc_rejected",
    "closed",
    "5xx",
    "grpc_error",
    "no_answer",
    "hang",
    "stuck_connection",
    "refused",
)


@dataclass
class Crash:
    """One death of the collector process and what was sent just before."""

    exit: str
    payloads: list[Path]
    log_tail: str


@dataclass
class FuzzReport:
    """Counts and findings of one run."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(transport, category) -> requests."""
    family_counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(payload family, category) -> requests."""
    failures: dict[tuple[str, str], list[Path]] = field(default_factory=dict)
    """(category, payload kind) -> saved reproducers (the first few)."""
    failure_counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    crashes: list[Crash] = field(default_factory=list)
    rss_samples: list[int] = field(default_factory=list)
    rss_base_index: int = 0
    """Index of the sample RSS growth is measured from (after warm-up or a restart)."""
    collector_counters: dict[str, float] = field(default_factory=dict)
    """The collector's own dropped/rejected counters at the end (last process only)."""
    forwarded_spans: int = 0
    """Spans the OTLP backend received and parsed (with ``forward``)."""
    forwarded_unparseable: int = 0
    """Forwarded requests the backend could not parse: acknowledged data lost downstream."""
    forwarded_unparseable_saved: list[Path] = field(default_factory=list)
    canary_sent: int = 0
    canary_lost: int = 0
    canary_rejected: int = 0
    elapsed_s: float = 0.0

    @property
    def sent(self) -> int:
        """Requests sent, all transports."""
        return sum(self.counts.values())

    def count(self, *categories: str) -> int:
        """Requests in any of ``categories``, all transports."""
        return sum(n for (_, c), n in self.counts.items() if c in categories)

    @property
    def rss_growth(self) -> float:
        """Relative growth of the typical RSS from the first tenth of the samples after
        the base to the last tenth (medians). The collector gives free heap pages back
        every few seconds (``malloc_trim_interval_seconds``) and refills them with the
        next requests, so single samples swing by tens of MiB around the trend; the
        medians follow the trend, which is what a leak moves."""
        samples = self.rss_samples[self.rss_base_index :]
        if len(samples) < 2:
            return 0.0
        width = max(1, len(samples) // 10)
        first = statistics.median(samples[:width])
        last = statistics.median(samples[-width:])
        return last / first - 1 if first > 0 else 0.0

    def goals(self) -> dict[str, tuple[str, bool]]:
        """Goal name -> (measured value, met)."""
        server_errors = self.count("5xx", "grpc_error")
        return {
            "crashes": (str(len(self.crashes)), not self.crashes),
            "hangs": (str(self.count("hang")), self.count("hang") == 0),
            "5xx / gRPC INTERNAL|UNKNOWN": (str(server_errors), server_errors == 0),
            "closed without an answer": (
                str(self.count("no_answer")),
                self.count("no_answer") == 0,
            ),
            "stuck gRPC connections": (
                str(self.count("stuck_connection")),
                self.count("stuck_connection") == 0,
            ),
            "RSS growth": (f"{self.rss_growth:+.1%}", self.rss_growth <= RSS_GOAL),
            "forwarded, then unparseable": (
                f"{self.forwarded_unparseable} ({self.forwarded_spans} spans parsed)",
                self.forwarded_unparseable == 0,
            ),
            "canary spans not queryable": (
                f"{self.canary_lost} of {self.canary_sent} (+{self.canary_rejected} refused)",
                self.canary_lost == 0 and self.canary_rejected == 0,
            ),
        }

    @property
    def ok(self) -> bool:
        """Whether every goal is met."""
        return all(met for _, met in self.goals().values())

    def table(self) -> str:
        """The summary as plain-text tables."""
        transports = sorted({t for t, _ in self.counts})
        shown = [c for c in CATEGORIES if any(self.counts[(t, c)] for t in transports)]
        width = max([len(c) for c in shown] + [9])
        lines = [f"{'transport':<9} {'sent':>8} " + " ".join(f"{c:>{width}}" for c in shown)]
        for transport in transports:
            row = [self.counts[(transport, c)] for c in shown]
            total = sum(n for (t, _), n in self.counts.items() if t == transport)
            lines.append(f"{transport:<9} {total:>8} " + " ".join(f"{n:>{width}}" for n in row))
        mib = [s / 2**20 for s in self.rss_samples]
        lines += [
            "",
            f"{self.sent} requests in {self.elapsed_s:.0f} s "
            f"({self.sent / max(self.elapsed_s, 1e-9):.0f}/s); "
            f"RSS MiB first/base/peak/last: "
            + (
                f"{mib[0]:.0f}/{mib[self.rss_base_index]:.0f}/{max(mib):.0f}/{mib[-1]:.0f}"
                if mib
                else "n/a"
            ),
            "RSS MiB at each tenth of the run: "
            + " ".join(f"{mib[min(len(mib) - 1, len(mib) * i // 10)]:.0f}" for i in range(1, 11))
            if mib
            else "",
            "",
            f"{'goal':<28} {'measured':>24}  met",
        ]
        for name, (value, met) in self.goals().items():
            lines.append(f"{name:<28} {value:>24}  {'yes' if met else 'NO'}")
        if self.collector_counters:
            lines.append("\nthe collector's counters at the end:")
            lines += [f"  {name} {value:.0f}" for name, value in self.collector_counters.items()]
        if self.forwarded_unparseable_saved:
            lines.append("\nforwarded requests the backend could not parse (first saved):")
            lines += [f"  {path}" for path in self.forwarded_unparseable_saved[:5]]
        for crash in self.crashes:
            lines.append(f"\ncrash ({crash.exit}); sent just before (last is newest):")
            lines += [f"  {path}" for path in crash.payloads]
        if self.failure_counts:
            lines.append("\nfailures by payload kind (count, first reproducer):")
            for (category, kind), n in self.failure_counts.most_common():
                saved = self.failures.get((category, kind), [])
                lines.append(f"  {category:<16} {kind:<48} {n:>6}  {saved[0] if saved else ''}")
        return "\n".join(lines)
