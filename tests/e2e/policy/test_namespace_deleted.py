"""A namespace being deleted, against the real API server: the leader's writer goes on writing
every other namespace, and the refused object is reported, not retried forever.

The namespace is held in `Terminating` by a finalizer on its own Secret, so the index still
calls for its object while the namespace controller has already deleted that object. The same
writer makes the passes the leader would: its update finds the object gone, the next pass's
create is refused as new content in a terminating namespace.
"""

import logging
import threading
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from app.core.credentials.credential import credential_from_secret
from app.core.policy.manifests import NAMESPACE_OBJECT
from app.shell.cluster.client import api_client
from app.shell.cluster.leader_work import LeaderSetup
from app.shell.cluster.policy_writer import PolicyWriter, wanted
from localcluster.kubectl import Kubectl
from tests.e2e.policy.fixtures import PolicyCluster, namespace, secret
from tests.kit.eventually import eventually
from tests.kit.kubectl import unique

HOLD = "e2e.pullpass.io/hold"


def refused() -> float:
    value = REGISTRY.get_sample_value("pullpass_parameter_writes_total", {"action": "refused"})
    return value or 0.0


def test_a_namespace_being_deleted_leaves_the_others_written(
    policy_mode: PolicyCluster,
    kubectl: Kubectl,
    kubeconfig: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    going, staying = unique("pm-going"), unique("pm-staying")
    held = secret(going, "own", "going.registry.example")
    held["metadata"]["finalizers"] = [HOLD]
    policy_mode.apply(
        [
            namespace(going),
            namespace(staying),
            held,
            secret(staying, "own", "staying.registry.example"),
        ]
    )
    leading = threading.Event()
    leading.set()
    index = policy_mode.index()
    # Nothing held in the shared object: each namespace gets an object of its own.
    setup = LeaderSetup(api_client(str(kubeconfig)), index, leading, lambda: True)
    writer = PolicyWriter(setup, 0)
    try:
        # As the leader's timer would: namespaces of earlier examples may still be terminating.
        eventually(lambda: writer.reconcile() == 0, 30, "a pass with nothing due again", every=1)
        assert kubectl("get", "-n", going, "pullpassrules", NAMESPACE_OBJECT).returncode == 0
        kubectl("delete", "namespace", going, "--wait=false")
        eventually(
            lambda: not kubectl("get", "-n", going, "pullpassrules", "-o", "name").stdout.strip(),
            60,
            "the namespace controller to delete the parameter object",
        )
        # Both namespaces' credentials change in the index, as the leader's watch would see it.
        for ns, key in ((going, "going.registry.example"), (staying, "staying.registry.example")):
            changed = credential_from_secret(secret(ns, "own", key, "more.registry.example"))
            assert changed is not None
            index.put_credential(changed)
        before = refused()
        with caplog.at_level(logging.DEBUG, "pullpass.policy"):
            assert writer.reconcile() == 1, "the update found the object gone: due again"
            assert writer.reconcile() == 0, "the create is refused: no retry on the timer"
        assert refused() > before
        ours = [
            (r.levelno, r.status, "being deleted" in r.getMessage())  # type: ignore[attr-defined]
            for r in caplog.records
            if getattr(r, "object", "").split("/")[0] in (going, staying)
            and "not written" in r.getMessage()
        ]
        assert ours == [(logging.INFO, 404, False), (logging.INFO, 403, True)]
        stored = kubectl.json("get", "-n", staying, "pullpassrules", NAMESPACE_OBJECT)
        assert stored["spec"] == wanted(index, 0)[staying, NAMESPACE_OBJECT], "the other is written"
    finally:
        kubectl(
            "patch",
            "secret",
            "own",
            "-n",
            going,
            "--type=merge",
            "-p",
            '{"metadata":{"finalizers":null}}',
            check=False,
        )
