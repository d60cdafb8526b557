"""What a node leaves on the host outside its work directory, and removing it.

Why: a kubelet and containerd are host software. Even with every directory option pointed at the
work directory, some things land where the harness cannot redirect them: the pod cgroups in every
cgroup hierarchy, mounts (the kubelet bind-mounts its root dir onto itself, pod volumes are
tmpfs), and a few files at fixed paths (the device-plugin socket, /var/log/containers links, the
NRI socket, shim sockets under /run/containerd, CNI state under /var/lib/cni). Each helper here
removes one kind, and `HostPaths` remembers which fixed paths existed before the node started so
that only what the node created is removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

from localcluster.processes import run_command

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _unescape(field: str) -> str:
    """Mount points in /proc/self/mountinfo escape space, tab, newline and backslash as octal."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mounts_under(directory: Path) -> list[Path]:
    """Mount points at or below `directory`, deepest (and latest) first."""
    root = str(directory.resolve())
    found = []
    with open("/proc/self/mountinfo") as table:
        for line in table:
            point = _unescape(line.split()[4])
            if point == root or point.startswith(root + "/"):
                found.append(Path(point))
    # Later mounts may stack on earlier ones: reverse order, then deepest first.
    found.reverse()
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_under(directory: Path) -> list[Path]:
    """Unmount everything at or below `directory`; returns what is still mounted."""
    for _ in range(3):
        points = mounts_under(directory)
        if not points:
            return []
        for point in points:
            if run_command(["umount", str(point)], check=False).returncode != 0:
                run_command(["umount", "-l", str(point)], check=False)
    return mounts_under(directory)


def cgroup_dirs(name: str = "kubepods") -> list[Path]:
    """`name` in every cgroup hierarchy (cgroup v1 has one per controller, plus unified)."""
    if not CGROUP_ROOT.is_dir():
        return []
    return [h / name for h in sorted(CGROUP_ROOT.iterdir()) if (h / name).is_dir()]


def _procs(tree: Path) -> set[int]:
    pids: set[int] = set()
    for procs in tree.rglob("cgroup.procs"):
        with contextlib.suppress(OSError, ValueError):
            pids.update(int(p) for p in procs.read_text().split())
    return pids


def remove_cgroups(name: str = "kubepods", grace: float = 10) -> list[Path]:
    """Kill any process left in the `name` cgroups, then remove them bottom-up in every
    hierarchy; returns what could not be removed."""
    trees = cgroup_dirs(name)
    deadline = time.monotonic() + grace
    while trees and time.monotonic() < deadline:
        pids = set().union(*(_procs(t) for t in trees))
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    for tree in trees:
        for _ in range(20):
            for directory in sorted(
                (p for p in tree.rglob("*") if p.is_dir()),
                key=lambda p: len(p.parts),
                reverse=True,
            ):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            with contextlib.suppress(OSError):
                tree.rmdir()
            if not tree.exists():
                break
            time.sleep(0.2)  # a cgroup whose last task just died is busy for a moment
    return [t for t in trees if t.exists()]


class HostPaths:
    """Fixed host paths a node may create, remembered before it starts, removed after it stops.

    A path that did not exist before is removed whole. A directory that did exist keeps its
    contents except the symbolic links that point into `workdir` (the kubelet's links in
    /var/log/containers). `sockets` are removed in any case: only the node's daemons make them.
    `shared` paths may also be used by other software at the same time (any containerd puts its
    shim sockets under /run/containerd/s): only their empty directories are removed.
    """

    def __init__(
        self,
        workdir: Path,
        paths: tuple[Path, ...],
        sockets: tuple[Path, ...] = (),
        shared: tuple[Path, ...] = (),
    ) -> None:
        self.workdir = workdir.resolve()
        self.paths = paths
        self.sockets = sockets
        self.shared = shared
        self.existed: dict[Path, set[str] | None] = {}
        self.shared_existed: dict[Path, bool] = {}

    def record(self) -> None:
        self.shared_existed = {path: path.exists() for path in self.shared}
        for path in self.paths:
            if path.is_dir():
                self.existed[path] = {entry.name for entry in path.iterdir()}
            elif path.exists() or path.is_symlink():
                self.existed[path] = set()
            else:
                self.existed[path] = None

    def state(self) -> dict[str, object]:
        """What `record()` saw, as JSON, for a later run to clean up after a crash."""
        return {
            "workdir": str(self.workdir),
            "paths": {
                str(p): sorted(b) if b is not None else None for p, b in self.existed.items()
            },
            "shared": {str(p): e for p, e in self.shared_existed.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, object], sockets: tuple[Path, ...] = ()) -> HostPaths:
        paths = state.get("paths")
        shared = state.get("shared")
        assert isinstance(paths, dict)
        assert isinstance(shared, dict)
        restored = cls(Path(str(state["workdir"])), tuple(Path(p) for p in paths), sockets)
        restored.existed = {Path(p): set(b) if b is not None else None for p, b in paths.items()}
        restored.shared_existed = {Path(p): bool(e) for p, e in shared.items()}
        return restored

    def remove(self) -> list[Path]:
        """Remove what the node created; returns what is left that it created."""
        for socket in self.sockets:
            with contextlib.suppress(FileNotFoundError):
                socket.unlink()
        for path, before in self.existed.items():
            if before is None:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
            elif path.is_dir():
                for entry in path.iterdir():
                    if entry.is_symlink() and self._points_into_workdir(entry):
                        entry.unlink()
        for path, existed in self.shared_existed.items():
            if not existed and path.is_dir():
                _remove_empty_dirs(path)
        return self.left()

    def left(self) -> list[Path]:
        """What the node created that is still there (a shared path still in use elsewhere is
        not counted)."""
        out = [s for s in self.sockets if s.exists()]
        for path, before in self.existed.items():
            if before is None and (path.exists() or path.is_symlink()):
                out.append(path)
            elif before is not None and path.is_dir():
                out.extend(
                    e for e in path.iterdir() if e.is_symlink() and self._points_into_workdir(e)
                )
        return out

    def _points_into_workdir(self, link: Path) -> bool:
        target = Path(os.readlink(link))
        return str(target).startswith(str(self.workdir) + "/")


def _remove_empty_dirs(top: Path) -> None:
    """Remove `top` and the directories under it that hold no file, deepest first."""
    for directory in sorted(
        (p for p in [top, *top.rglob("*")] if p.is_dir() and not p.is_symlink()),
        key=lambda p: len(p.parts),
        reverse=True,
    ):
        with contextlib.suppress(OSError):
            directory.rmdir()
