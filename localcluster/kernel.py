"""The machine-wide kernel settings a kubelet changes, recorded before it starts and put back.

Why: the kubelet sets `vm.overcommit_memory=1`, `kernel.panic=10` and `kernel.panic_on_oops=1`
at start (its "kernel defaults"). They are not per network namespace, so they outlive the node
and change how this shared machine behaves unless they are restored.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

KUBELET_SETTINGS = ("vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops")


def _path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def read(name: str) -> str:
    return _path(name).read_text().strip()


class KernelSettings:
    """`record()` the current values; `restore()` writes back any that changed since."""

    def __init__(self, names: tuple[str, ...] = KUBELET_SETTINGS) -> None:
        self.names = names
        self.recorded: dict[str, str] = {}

    def record(self) -> dict[str, str]:
        self.recorded = {name: read(name) for name in self.names}
        return dict(self.recorded)

    def changed(self) -> dict[str, tuple[str, str]]:
        """name -> (recorded, now) for every setting that differs from its record."""
        out = {}
        for name, value in self.recorded.items():
            now = read(name)
            if now != value:
                out[name] = (value, now)
        return out

    def restore(self) -> None:
        for name, (value, _) in self.changed().items():
            with contextlib.suppress(OSError):
                _path(name).write_text(value)
