"""How many evictions repair may make: a token bucket of `per_minute` tokens (pure).

It starts full, so the pods an outage left stuck are repaired at once up to the rate, and refills
one token every 60/`per_minute` seconds: a burst of at most `per_minute`, then `per_minute` a
minute. The clock is the caller's, so a test can run a minute in a microsecond.
"""

from dataclasses import dataclass, replace
from typing import Self


@dataclass(frozen=True, slots=True)
class Bucket:
    per_minute: int
    tokens: float
    at: float

    @classmethod
    def full(cls, per_minute: int, now: float) -> Self:
        return cls(per_minute, float(per_minute), now)

    def refilled(self, now: float) -> Self:
        earned = max(0.0, now - self.at) * self.per_minute / 60.0
        return replace(self, tokens=min(float(self.per_minute), self.tokens + earned), at=now)

    def take(self, now: float) -> Self | None:
        """The bucket after one eviction, or None when it must wait."""
        bucket = self.refilled(now)
        if bucket.tokens < 1.0:
            return None
        return replace(bucket, tokens=bucket.tokens - 1.0)

    def give_back(self) -> Self:
        """An eviction that did not happen (a PodDisruptionBudget said no) costs nothing."""
        return replace(self, tokens=min(float(self.per_minute), self.tokens + 1.0))
