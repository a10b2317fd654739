"""Retry waits stay within ``max_interval`` whatever the jitter (issue #11: waits of
37-43 s were seen with ``max_interval: 30`` because the jitter was added above the cap)."""

from __future__ import annotations

import random

from mlspan.collector.exporters.retry import Backoff, RetryConfig


def test_jittered_waits_never_exceed_max_interval_and_still_spread() -> None:
    config = RetryConfig(initial_interval=1.0, max_interval=30.0, max_elapsed_time=0)
    waits: list[float] = []
    for seed in range(200):
        backoff = Backoff(config, random.Random(seed))
        waits.extend(backoff.next_wait() for _ in range(20))
    assert max(waits) <= 30.0
    at_cap = waits[15::20]  # the 16th wait of each run: interval at the cap
    assert min(at_cap) >= 15.0  # interval 30 x (1 - 0.5)
    assert len({round(wait, 3) for wait in at_cap}) > 150  # spread, not piled up on 30
    assert sum(wait == 30.0 for wait in at_cap) == 0


def test_waits_below_the_cap_keep_their_full_jitter_range() -> None:
    config = RetryConfig(initial_interval=4.0, max_interval=30.0, multiplier=1.0)
    waits = [Backoff(config, random.Random(seed)).next_wait() for seed in range(500)]
    assert 2.0 <= min(waits) < 2.5
    assert 5.5 < max(waits) <= 6.0


def test_server_delay_is_honoured_up_to_the_cap_only() -> None:
    config = RetryConfig(initial_interval=1.0, max_interval=30.0)
    assert Backoff(config, random.Random(3)).next_wait(server_delay=45.0) == 30.0
    assert Backoff(config, random.Random(3)).next_wait(server_delay=12.0) == 12.0
