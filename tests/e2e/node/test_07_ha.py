"""In-cluster HA: one pullpass pod is deleted while pods are being created; every pod created
meanwhile still gets its credential, because the other replica serves through the Service."""

import time
from collections.abc import Callable

from localcluster.kubectl import Kubectl
from localcluster.release import Release
from tests.e2e.node.actions import wait_serving
from tests.kit.kubectl import PodStream

# The stream's pods stay Pending (no node matches), so the node does not run dozens of them:
# what is under test is admission, which happens at create.
NOWHERE = {"pullpass.io/e2e-node": "none"}


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
    streams = [
        PodStream(kubectl, namespace, image, prefix, node_selector=NOWHERE).start()
        for prefix in ("a", "b")
    ]
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
        for stream in streams:
            stream.stop()
    created = [c for s in streams for c in s.results]
    during = [c for c in created if c[0] >= deleted_at]
    errors = [e for s in streams for e in s.errors]
    assert not errors, errors
    assert len(during) >= 20, f"only {len(during)} pods created while a replica was replaced"
    missing = sorted(name for _, name, secrets, _ in created if secrets != ["registry"])
    assert not missing, f"{len(missing)} of {len(created)} pods got no credential: {missing}"
