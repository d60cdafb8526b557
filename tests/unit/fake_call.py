"""A scripted stand-in for the one client function a `Watcher` calls, so the list and watch loop
runs on a thread without a cluster.

The script is a list of steps consumed in order: `Page` answers a list call, `Stream` a watch
call, `Fail` raises, and `Gate` holds the next call open until the test releases it. Each call
the script answers is recorded, with its parameters, in `calls`. When the script runs out the
fake stops the watcher, so a test ends as soon as the loop has done what it was given.

Kept apart from the tests so the loop's next shape (another backoff, other readiness reporting)
means changing one helper, not every test.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.shell.cluster.reflector import Watcher


@dataclass
class Page:
    """One page of a list: `cont` is the continue token of a page that is not the last."""

    items: list[dict[str, Any]]
    version: str = "1"
    cont: str = ""

    @property
    def data(self) -> bytes:
        metadata: dict[str, Any] = {"resourceVersion": self.version}
        if self.cont:
            metadata["continue"] = self.cont
        return orjson.dumps({"items": self.items, "metadata": metadata})


@dataclass
class Stream:
    """One watch response: the events, then the end of the stream (the server's timeout), or
    `then` raised as the read that follows them (a read timeout, say)."""

    events: list[dict[str, Any]]
    released: bool = False
    then: Exception | None = None

    def stream(self, amt: Any = None, decode_content: bool = False) -> Any:
        for event in self.events:
            yield orjson.dumps(event) + b"\n"
        if self.then is not None:
            raise self.then

    def release_conn(self) -> None:
        self.released = True


@dataclass
class Fail:
    """The call raises, as a refused connection or a 500 would."""

    error: Exception = field(default_factory=lambda: ConnectionError("refused"))


@dataclass
class Gate:
    """Holds the next call open until `release()`; `reached` is set once the call is waiting."""

    reached: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.opened.set()


Step = Page | Stream | Fail | Gate


def event(kind: str, name: str, version: str, **extra: Any) -> dict[str, Any]:
    """A watch event for a namespaced object, or an ERROR event's Status when `kind` is ERROR."""
    if kind == "ERROR":
        return {"type": "ERROR", "object": {"kind": "Status", **extra}}
    meta = {"name": name, "namespace": "ns", "resourceVersion": version}
    return {"type": kind, "object": {"metadata": meta, **extra}}


def item(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns"}}


class FakeCall:
    """The scripted `call`. A list call must meet a `Page`, a watch call a `Stream`."""

    def __init__(self, *script: Step) -> None:
        self.script = list(script)
        self.calls: list[dict[str, Any]] = []
        self.watcher: Watcher | None = None
        self.lock = threading.Lock()
        self.mismatch: str | None = None

    def __call__(self, **params: Any) -> Any:
        while True:
            with self.lock:
                step = self.script.pop(0) if self.script else None
            if step is None:
                assert self.watcher is not None
                self.watcher.stopping.set()
                raise RuntimeError("script done")
            if not isinstance(step, Gate):
                with self.lock:
                    self.calls.append(params)
                break
            step.reached.set()
            step.opened.wait(10)
        if isinstance(step, Fail):
            raise step.error
        wanted = Stream if params.get("watch") else Page
        if not isinstance(step, wanted):
            self.mismatch = f"{wanted.__name__} call met {step!r}"
            raise AssertionError(self.mismatch)
        return step

    @property
    def lists(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if not c.get("watch")]

    @property
    def watches(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if c.get("watch")]


class Applied:
    """The `apply` side: what the loop handed over, a LIST as the list of its items."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def __call__(self, kind: str, obj: Any) -> None:
        self.seen.append((kind, list(obj) if kind == "LIST" else obj))


class Waits:
    """Stands in for `Watcher.stopping`: records each backoff instead of sleeping through it."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []
        self._event = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        if self._event.is_set():
            return True
        if timeout is not None:
            self.timeouts.append(timeout)
        return False

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()


def watcher(
    call: FakeCall, apply: Callable[[str, Any], None], *, record_waits: bool = True
) -> Watcher:
    """A Watcher on the fake `call`; its backoffs are recorded, not slept, unless asked."""
    loop = Watcher("secrets", call, apply)
    call.watcher = loop
    if record_waits:
        loop.stopping = Waits()  # type: ignore[assignment]
    return loop


def run(loop: Watcher, timeout: float = 10) -> None:
    """Start the loop's thread and wait for it to reach the end of its script."""
    loop.start()
    loop.join(timeout)
    assert not loop.is_alive(), "the watch loop did not finish its script"
