"""The one way the suites wait: poll a check until it holds, bounded, with a failure that says
what was awaited and what was last seen."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    every: float = 0.1,
    *,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """Return the first truthy result of `check`. `ignoring`: errors that mean "not yet" (a
    server still starting refuses connections); anything else fails at once."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except ignoring as error:
            last = error
        else:
            if result:
                return result
            last = result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
