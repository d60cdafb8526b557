"""In-cluster HA: one pullpass pod is deleted while pods are being created; every pod created
meanwhile still gets its credential, because the other replica serves through the Service."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from e2e_node.actions import busybox_pod, pull_secret_names, wait_serving
from localcluster.kubectl import Kubectl
from localcluster.release import Release

# The stream's pods stay Pending (no node matches), so the node does not run dozens of them:
# what is under test is admission, which happens at create.
NOWHERE = {"pullpass.io/e2e-node": "none"}


@dataclass
class PodStream:
    """Creates pods one after another in a thread with `kubectl create`, as a CI job would."""

    kubectl: Kubectl
    namespace: str
    image: str
    prefix: str
    created: list[tuple[float, str, list[str]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stopping.is_set():
            name = f"{self.prefix}-{len(self.created) + len(self.errors)}"
            pod = busybox_pod(self.namespace, name, self.image)
            pod["spec"]["nodeSelector"] = NOWHERE
            done = self.kubectl(
                "create", "-f", "-", "-o", "json", input=json.dumps(pod), check=False
            )
            if done.returncode != 0:
                self.errors.append(f"{name}: {done.stderr.strip()[:300]}")
            else:
                stored = json.loads(done.stdout)
                self.created.append((time.monotonic(), name, pull_secret_names(stored)))


def test_deleting_one_replica_loses_no_admission(
    pullpass: Release,
    kubectl: Kubectl,
    namespace_with_credential: Callable[[str], tuple[str, str]],
) -> None:
    namespace, image = namespace_with_credential("ha")
    wait_serving(kubectl, namespace, image, "registry")
    before = set(pullpass.ready_pods())
    victim = sorted(before)[0]
    # Two creators at once: the API server then holds more than one connection to the webhook.
    streams = [PodStream(kubectl, namespace, image, prefix) for prefix in ("a", "b")]
    threads = [threading.Thread(target=s.run, daemon=True) for s in streams]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        deleted_at = time.monotonic()
        kubectl("delete", "pod", victim, "-n", pullpass.namespace, "--wait=false")
        # Until the victim is gone and a replacement serves, then a little longer.
        deadline = deleted_at + 120
        while time.monotonic() < deadline:
            names = {p["metadata"]["name"] for p in pullpass.pods()}
            ready = set(pullpass.ready_pods())
            if victim not in names and len(ready) == len(before) and ready != before:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"no replacement for {victim} within 120s: {pullpass.pods()}")
        time.sleep(3)
    finally:
        for stream in streams:
            stream.stopping.set()
        for thread in threads:
            thread.join(60)
    created = [c for s in streams for c in s.created]
    during = [c for c in created if c[0] >= deleted_at]
    errors = [e for s in streams for e in s.errors]
    assert not errors, errors
    assert len(during) >= 20, f"only {len(during)} pods created while a replica was replaced"
    missing = sorted(name for _, name, secrets in created if secrets != ["registry"])
    assert not missing, f"{len(missing)} of {len(created)} pods got no credential: {missing}"
