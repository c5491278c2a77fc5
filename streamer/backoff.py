"""Reconnect delays: the one backoff rule of every source (UrlSource's own retries and the service's supervisor)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter, so many clients of one dead server don't retry in lockstep."""

    base_s: float = 0.5
    cap_s: float = 30.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based): half fixed, half random,
        never more than ``cap_s``."""
        ceiling = min(self.cap_s, self.base_s * 2 ** max(0, attempt - 1))
        return ceiling * (0.5 + 0.5 * (rng or random).random())
