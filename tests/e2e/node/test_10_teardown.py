"""Teardown removes pods through the API server first: a pod the API server still holds has its
sandbox started again by the kubelet while `crictl rmp -fa` removes it, and the stop was counted
as failed ("crictl rmp -fa left pods behind") though the second removal cleaned everything.

Last in the suite: it deletes every pod on the node (the session's teardown does next).
"""

from localcluster.kubectl import Kubectl
from localcluster.node import SANDBOX_IMAGE, Node
from tests.e2e.node.fixtures import Namespaces

REPLICAS = 4


def test_the_first_removal_leaves_no_pod_the_kubelet_starts_again(
    node: Node, kubectl: Kubectl, namespaces: Namespaces
) -> None:
    namespace = namespaces.create("teardown", enabled=False)
    labels = {"app": "idle"}
    container = {"name": "idle", "image": SANDBOX_IMAGE, "imagePullPolicy": "Never"}
    kubectl.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "idle", "namespace": namespace},
            "spec": {
                "replicas": REPLICAS,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [container]},
                },
            },
        }
    )
    kubectl("rollout", "status", "-n", namespace, "deployment/idle", "--timeout=50s")
    assert len(node.containerd.pods("--state=ready")) >= REPLICAS
    node.scheduler.stop()  # as the teardown does: replacements get no place on the node
    try:
        assert node.remove_pods() == [], "every sandbox gone after the first removal"
        replacements = kubectl.json("get", "pods", "-n", namespace)["items"]
        assert len(replacements) == REPLICAS, "the ReplicaSet made new pods"
        assert all(not p["spec"].get("nodeName") for p in replacements), "none placed"
        assert node.containerd.pods() == []
    finally:
        node.scheduler.start()
