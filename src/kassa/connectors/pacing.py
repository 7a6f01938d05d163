"""How often a connector may ask, and how long it waits after a fault: rate limits and jittered back-off.

Both take the clock and the sleep as values, so a test runs hours of waiting in no time and can assert
each wait; production uses ``time.monotonic`` and ``time.sleep``.

* :class:`RateLimit` keeps a service's documented limit *before* the service complains (Direct's Reports:
  ≤ 20 requests per 10 s per user): before a request, if the window is full, it waits until the oldest
  request leaves it.
* :func:`backoff` is "equal jitter" exponential back-off: the n-th wait is between half and all of
  ``min(cap, base × 2ⁿ⁻¹)``. Jitter keeps clients that failed together from retrying together; the half
  kept fixed keeps a wait from shrinking to nothing; the cap keeps a long outage from growing one wait
  to hours (the overall deadline of the caller decides when to stop).
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass
class RateLimit:
    """At most ``requests`` per ``per`` seconds (a sliding window)."""

    requests: int
    per: float
    clock: Clock = time.monotonic
    sleep: Sleep = time.sleep
    _sent: deque[float] = field(default_factory=deque)
    waited: float = 0.0  # seconds spent waiting for the window, for the sync's summary

    def wait(self) -> None:
        """Block until one more request fits the window, then count it."""
        now = self.clock()
        while self._sent and now - self._sent[0] >= self.per:
            self._sent.popleft()
        if len(self._sent) >= self.requests:
            pause = self.per - (now - self._sent[0])
            if pause > 0:
                self.sleep(pause)
                self.waited += pause
            self._sent.popleft()
            now = self.clock()
        self._sent.append(now)


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = the first retry), jittered as above."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)
