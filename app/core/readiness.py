"""Readiness from the state of each watch: ready once every first full list is in.

After that, pullpass serves from its last good index whatever happens to the watches: a lost
watch is reported (a metric, a log line and a line here), never a readiness failure, because
taking every replica out of the Service during an API outage would admit pods with nothing.
The verbose answer has one line per watch, as the kube-apiserver's `/readyz?verbose` has one
per check.
"""

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WatchState:
    """What a watcher reports of itself; `synced_at` is a wall-clock time, 0 before any sync."""

    resource: str
    listed: bool
    in_sync: bool
    synced_at: float
    why: str = ""


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    lines: tuple[str, ...]

    def verbose(self) -> str:
        verdict = "readyz check passed" if self.ready else "readyz check failed"
        return "".join(f"{line}\n" for line in (*self.lines, verdict))


def readiness(states: Iterable[WatchState], now: float) -> Readiness:
    lines = []
    ready = True
    for state in states:
        name = f"watch/{state.resource}"
        if not state.listed:
            ready = False
            lines.append(f"[-]{name} failed: waiting for the first full list{_because(state)}")
        elif state.in_sync:
            lines.append(f"[+]{name} ok")
        else:
            age = max(0.0, now - state.synced_at)
            lines.append(
                f"[+]{name} ok: watch lost{_because(state)}, serving the last good index "
                f"(in sync {age:.1f}s ago)"
            )
    return Readiness(ready, tuple(lines))


def draining(ready: Readiness) -> Readiness:
    """Out of the Service while the webhook port drains before exit."""
    return Readiness(False, (*ready.lines, "[-]shutdown failed: draining before exit"))


def _because(state: WatchState) -> str:
    return f" ({state.why})" if state.why else ""
