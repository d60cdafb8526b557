"""A progress line on a terminal for a command that runs longer than a second.

Only a TTY gets it, and only on stderr, so a pipe or a file (and JSON on stdout) stay clean.
"""

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")

DELAY = 1.0
EVERY = 0.1


class Progress:
    def __init__(
        self, stream: TextIO, what: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream = stream
        self.what = what
        self.clock = clock
        self.enabled = stream.isatty()
        self._start = clock()
        self._shown = 0.0
        self._drawn = False

    def track(self, items: Iterable[T]) -> Iterator[T]:
        """Yield `items`, redrawing a count at most ten times a second after the first second."""
        for count, item in enumerate(items, 1):
            if self.enabled:
                self._draw(count)
            yield item
        self.done()

    def _draw(self, count: int) -> None:
        now = self.clock()
        if now - self._start < DELAY or now - self._shown < EVERY:
            return
        self._shown = now
        self._drawn = True
        self.stream.write(f"\r{self.what}: {count} ({now - self._start:.0f}s)")
        self.stream.flush()

    def done(self) -> None:
        """Erase the line, so what follows starts on a clean one."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False
