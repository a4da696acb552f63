"""The provider's rate limit: a thread-safe token bucket over every /api/v1/ request."""

import math
import threading
import time


class TokenBucket:
    """`rps` tokens per second, at most `bucket` stored (the burst); off when rps is None.

    A request takes one token; without a token it is refused and takes nothing.
    """

    def __init__(self, rps=None, bucket=None, clock=time.monotonic):
        self._lock = threading.Lock()
        self.clock = clock
        self.configure(rps, bucket)

    @staticmethod
    def capacity_for(rps, bucket):
        """The bucket size: as given, else one second's worth of tokens (at least 1)."""
        return int(bucket) if bucket is not None else max(1, math.ceil(rps or 0))

    def configure(self, rps, bucket):
        """New rate and size; the bucket starts full."""
        with self._lock:
            self.rps = float(rps) if rps else None
            self.capacity = self.capacity_for(rps, bucket)
            self.tokens = float(self.capacity)
            self.stamp = self.clock()

    def refill(self):
        """Back to a full bucket (same rate)."""
        with self._lock:
            self.tokens = float(self.capacity)
            self.stamp = self.clock()

    def take(self):
        """None when the request may go on (a token was taken), else whole seconds until one is available (>= 1)."""
        with self._lock:
            if self.rps is None:
                return None
            now = self.clock()
            self.tokens = min(float(self.capacity), self.tokens + max(0.0, now - self.stamp) * self.rps)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - self.tokens) / self.rps - 1e-9))

    def describe(self):
        with self._lock:
            if self.rps is None:
                return {"rps": None, "capacity": None, "tokens": None}
            now = self.clock()
            tokens = min(float(self.capacity), self.tokens + max(0.0, now - self.stamp) * self.rps)
            return {"rps": self.rps, "capacity": self.capacity, "tokens": round(tokens, 3)}
