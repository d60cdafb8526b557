"""The label and annotation names that make up pullpass's public contract, and the pod opt-out
they spell."""

from collections.abc import Mapping

PREFIX = "pullpass.io/"
INJECT = "pullpass.io/inject"
ENABLED = "enabled"
DISABLED = "disabled"
PROJECT = "pullpass.io/project"
SCOPE = "pullpass.io/scope"
CLUSTER = "cluster"
MANAGED_BY = "pullpass.io/managed-by"
PULLPASS = "pullpass"
SOURCE = "pullpass.io/source"
INJECTED = "pullpass.io/injected"
RANCHER_PROJECT = "field.cattle.io/projectId"
SOURCE_VERSION = "pullpass.io/source-version"


def opted_out(pod_labels: Mapping[str, str]) -> bool:
    """A pod's own opt-out, one rule for both modes: the webhook adds nothing to such a pod, and
    secretless mode answers the kubelet with nothing for it."""
    return pod_labels.get(INJECT) == DISABLED
