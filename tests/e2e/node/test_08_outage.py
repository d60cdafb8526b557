"""An outage: pullpass scaled to 0. Pods are still admitted (failurePolicy Ignore: pullpass never
blocks a pod) but get no credential and sit in ImagePullBackOff. Scaled back, new pods run.

What the outage leaves behind, checked at the end: a pod's imagePullSecrets cannot change after
creation, so every pod admitted during the outage keeps failing after pullpass is back: the bare
pod forever, and a Deployment's pod until something deletes it (its ReplicaSet does not replace a
pod that is merely failing to pull). With repair off (the chart's default) nothing evicts them;
`pullpass audit` finds them, and `serve --repair` evicts the Deployment's (test_09_repair).
"""

from collections.abc import Callable
from pathlib import Path

from localcluster.kubectl import Kubectl
from localcluster.release import Release
from tests.e2e.node.actions import (
    busybox_pod,
    get_pod,
    outage,
    pods_of,
    still_stuck,
    wait_running,
    waiting_reasons,
    write_manifest,
)
from tests.kit.eventually import eventually
from tests.kit.kubectl import pull_secrets


def test_outage_fails_open_and_leaves_failing_pods_behind(
    pullpass: Release,
    kubectl: Kubectl,
    namespace_with_credential: Callable[[str], tuple[str, str]],
    tmp_path: Path,
) -> None:
    stuck = outage(pullpass, namespace_with_credential, tmp_path, "outage", replicas=1)
    namespace = stuck.namespace
    eventually(
        lambda: "ImagePullBackOff" in waiting_reasons(get_pod(kubectl, namespace, "bare")),
        60,
        "ImagePullBackOff",
    )

    after = write_manifest(tmp_path, "after.yml", busybox_pod(namespace, "after", stuck.image))
    kubectl("apply", "-f", str(after))
    assert pull_secrets(wait_running(kubectl, namespace, "after")) == ["registry"]

    # Left behind: both pods admitted during the outage still lack the credential and fail.
    bare = get_pod(kubectl, namespace, "bare")
    assert still_stuck(bare), waiting_reasons(bare)
    (web_pod,) = pods_of(kubectl, namespace, "app=web")
    assert still_stuck(web_pod), waiting_reasons(web_pod)
