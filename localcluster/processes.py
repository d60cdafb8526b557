"""Long-running processes that die with their parent and leave no child behind."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from localcluster.errors import ClusterError

_LIVE: set[subprocess.Popen[Any]] = set()


def kill_group(process: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM the process group, then SIGKILL it: nothing the component forked survives."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)
    _LIVE.discard(process)


@atexit.register
def _kill_all() -> None:
    """Last resort when a caller forgot `stop()` or an exception skipped it."""
    for process in list(_LIVE):
        kill_group(process, grace=2)


_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """Child-side, before exec: SIGKILL this process when its parent dies (Linux only)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Component:
    """One long-running process with its log file; restartable with the same arguments."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
        wrapper: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = env
        # Runs `argv` through it, e.g. `nsenter --net=...`, which execs argv in place (same PID).
        self.wrapper = list(wrapper)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (again); output is appended to the same log across restarts."""
        if self.running():
            return
        binary = Path(self.argv[0])
        if not binary.is_file() or not os.access(binary, os.X_OK):
            raise ClusterError(f"{self.name}: binary {binary} is missing or not executable")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as sink:
            sink.write(f"\n==== {self.name} start {time.strftime('%H:%M:%S')} ====\n".encode())
            sink.flush()
            self.process = subprocess.Popen(
                [*self.wrapper, *self.argv],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self.env,
                process_group=0,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl call, no locks
            )
        _LIVE.add(self.process)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def stop(self, grace: float = 10) -> None:
        if self.process is not None:
            kill_group(self.process, grace)
            self.process = None

    def kill(self) -> None:
        """SIGKILL the process group at once, as a crash or an OOM kill would: no shutdown runs."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            _LIVE.discard(self.process)
            self.process = None

    def tail(self, lines: int = 30) -> str:
        """The last lines of the log, for failure messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log})"
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, what: str) -> ClusterError:
        status = "running" if self.running() else f"exited with {self._returncode()}"
        return ClusterError(
            f"{self.name} {what} ({status}); log {self.log}, last lines:\n{self.tail()}"
        )

    def _returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `check` until true; fail early if the process dies, with its log tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise self.fail(f"exited while waiting for {what}")
            with contextlib.suppress(Exception):
                if check():
                    return
            time.sleep(0.2)
        raise self.fail(f"not {what} after {timeout:.0f}s")


_GIVEN: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on right now, and never one this process was given before:
    two calls in a row may otherwise get the same port back from the kernel, and a server then
    finds its second port taken by its first."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def run_command(
    argv: Sequence[str], *, check: bool = True, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a short command to completion; a missing binary or a failure raises `ClusterError`
    with its output."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, input=input, check=False
        )
    except FileNotFoundError as error:
        raise ClusterError(f"{argv[0]} is missing (scripts/host-packages installs it)") from error
    except subprocess.TimeoutExpired as error:
        raise ClusterError(f"{' '.join(argv)} timed out after {timeout:.0f}s") from error
    if check and done.returncode != 0:
        raise ClusterError(
            f"{' '.join(argv)} exited {done.returncode}:\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return done
