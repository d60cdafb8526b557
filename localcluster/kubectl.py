"""kubectl, run as a user runs it, against one kubeconfig."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from localcluster.build import find_kubectl


class KubectlError(AssertionError):
    """kubectl failed where the caller expected success; carries its stderr."""


class Kubectl:
    """Runs the pinned kubectl against one kubeconfig, as a user would.

    `wrapper` runs it through another command first: `nsenter --net=...` for a cluster that lives
    in a network namespace of its own.
    """

    def __init__(
        self,
        kubeconfig: Path,
        binary: Path | None = None,
        timeout: float = 60,
        wrapper: Sequence[str] = (),
    ) -> None:
        self.kubeconfig = kubeconfig
        self.binary = binary or find_kubectl()
        self.timeout = timeout
        self.wrapper = list(wrapper)

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        argv = [*self.wrapper, str(self.binary), f"--kubeconfig={self.kubeconfig}", *args]
        try:
            done = subprocess.run(
                argv,
                input=input,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise KubectlError(
                f"kubectl {' '.join(args)} timed out after {self.timeout}s"
            ) from error
        if check and done.returncode != 0:
            raise KubectlError(
                f"kubectl {' '.join(args)} exited {done.returncode}:\n"
                f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
            )
        return done

    def json(self, *args: str) -> Any:
        """`kubectl ... -o json`, parsed."""
        return json.loads(self(*args, "-o", "json").stdout)

    def apply(self, obj: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
        """`kubectl apply -f -` of one object (JSON is YAML)."""
        return self("apply", "-f", "-", *args, input=json.dumps(obj))

    def create(self, obj: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
        return self("create", "-f", "-", *args, input=json.dumps(obj))
