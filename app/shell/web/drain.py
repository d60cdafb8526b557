"""Stopping without dropping a review: the webhook port's drain after SIGTERM.

The API server sends a review on a kept-alive connection and does not retry a POST that gets
EOF, so closing connections the moment SIGTERM arrives admits a pod without its credentials.
While draining, pullpass keeps serving, answers every request with `connection: close` (so the
API server dials again, and reaches a replica that is staying), and closes no connection on
which a request has begun. Only then does it exit.
"""


class Drain:
    """Shared by the webhook port's connections; begun once, by the first stop signal."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started = False

    def begin(self) -> None:
        self.started = True
