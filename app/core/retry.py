"""How long a lost list or watch waits before it tries again.

Short and capped: an API server that comes back after an outage of any length is listed again
within about a second, instead of after a backoff that grew all through the outage. Jittered,
so replicas and watchers do not all hit the returning API server in the same instant. The count
of failures starts again at zero after every successful list.
"""

FIRST_SECONDS = 0.1
CAP_SECONDS = 1.0


def retry_delay(failures: int, draw: float) -> float:
    """Seconds to wait after the `failures`-th failure in a row (1, 2, ...); `draw` is a random
    number in [0, 1) that spreads the wait over the upper half of the step."""
    step = min(CAP_SECONDS, FIRST_SECONDS * 2.0 ** min(max(failures, 1) - 1, 16))
    return step * (0.5 + 0.5 * draw)
