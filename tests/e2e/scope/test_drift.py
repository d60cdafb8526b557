"""Copies edited or deleted by hand are repaired, live and after the replicas were all down."""

import base64
import json

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import Installation
from tests.e2e.scope.sources import PROJECT, apply_registry_secret, get_secret, wait_copies
from tests.kit.kubectl import Passwords, create_namespace, unique

REGISTRY = "drift.registry.example"
EMPTY = base64.b64encode(json.dumps({"auths": {}}).encode()).decode()


def _tamper(kubectl: Kubectl, namespace: str, name: str) -> None:
    """A user overwrites a copy's data by hand."""
    patch = {"data": {".dockerconfigjson": EMPTY}}
    kubectl("patch", "secret", name, "-n", namespace, "--type=merge", "-p", json.dumps(patch))


def test_hand_edits_are_repaired_live_and_on_start(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    home = installation.credentials_namespace
    project = unique("drift")
    deleted, edited, leaving = (
        create_namespace(kubectl, unique(f"drift-{role}"), labels={PROJECT: project})
        for role in ("deleted", "edited", "leaving")
    )
    name = unique("drift-reg")
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    before = wait_copies(kubectl, home, name, {deleted, edited, leaving})

    # While pullpass runs.
    kubectl("delete", "secret", name, "-n", deleted)
    _tamper(kubectl, edited, name)
    live = wait_copies(kubectl, home, name, {deleted, edited, leaving})
    assert live[deleted]["metadata"]["uid"] != before[deleted]["metadata"]["uid"]

    # While every replica is down: the next leader's first pass repairs it all.
    installation.stop_all()
    kubectl("delete", "secret", name, "-n", deleted)
    _tamper(kubectl, edited, name)
    kubectl("label", "namespace", leaving, f"{PROJECT}={unique('elsewhere')}", "--overwrite")
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    tampered = get_secret(kubectl, edited, name)
    assert tampered is not None
    assert tampered["data"][".dockerconfigjson"] == EMPTY

    installation.baseline()
    wait_copies(kubectl, home, name, {deleted, edited})
    assert get_secret(kubectl, leaving, name) is None
