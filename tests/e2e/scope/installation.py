"""pullpass installed the way the chart installs it, on the real control plane.

The chart's RBAC objects (ServiceAccount, ClusterRole, Role, bindings) and its Secret-write
ValidatingAdmissionPolicy are rendered with the pinned helm and applied; every replica runs
`pullpass serve` with the chart's own Deployment arguments and a kubeconfig that holds nothing
but a token for the chart's ServiceAccount, issued by the real API server (TokenRequest). So
every read and write pullpass makes in this suite is checked against the chart's RBAC and
policy: a missing rule, or a write the policy refuses, fails a test instead of passing unnoticed.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass, webhook_configuration
from tests.kit.chart import render
from tests.kit.eventually import eventually
from tests.kit.kubectl import (
    Passwords,
    create_namespace,
    docker_registry_secret,
    dry_run_create,
    unique,
)
from tests.kit.metrics import metric

RELEASE_NAMESPACE = "pullpass-system"
LEASE_DURATION = 4  # seconds: short, so failover tests stay fast
# Deployment arguments that describe the cluster scope; ports and certificates are the harness's.
SCOPE_FLAGS = (
    "--rancher",
    "--project-label=",
    "--credentials-namespace=",
    "--replicate",
    "--no-replicate",
    "--lease-name=",
    "--lease-namespace=",
    "--lease-duration=",
    "--repair",  # and --repair-after=, --repair-rate=
    "--detect-missing",
    "--unserved-namespaces=",
)
COPY_WRITE = re.compile(r'"msg": ?"copy (created|updated|deleted)"')

Manifest = dict[str, Any]


def chart(values: dict[str, Any] | None = None) -> list[Manifest]:
    """The chart rendered as an admin installs it, with a short Lease for the failover tests."""
    merged = {"replication": {"leaseDuration": LEASE_DURATION}, **(values or {})}
    return render(merged, namespace=RELEASE_NAMESPACE)


def scope_args(objects: list[Manifest]) -> list[str]:
    """The chart Deployment's `pullpass serve` flags that choose scope and leader election."""
    deployment = next(o for o in objects if o.get("kind") == "Deployment")
    args: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "serve", args
    return [a for a in args[1:] if a.startswith(SCOPE_FLAGS)]


def flag(args: list[str], name: str) -> str:
    """The value of `--name=value` in `args`."""
    prefix = f"--{name}="
    values = [a[len(prefix) :] for a in args if a.startswith(prefix)]
    assert len(values) == 1, f"{prefix} in {args}"
    return values[0]


def service_account(objects: list[Manifest]) -> tuple[str, str]:
    """(namespace, name) of the chart's ServiceAccount."""
    sa = next(o for o in objects if o.get("kind") == "ServiceAccount")
    return sa["metadata"]["namespace"], sa["metadata"]["name"]


def copy_writes(log: str) -> list[str]:
    """The `secret` field of every copy write or delete the replica logged."""
    out = []
    for line in log.splitlines():
        if COPY_WRITE.search(line):
            with contextlib.suppress(ValueError):
                out.append(str(json.loads(line).get("secret")))
    return out


@dataclass
class Installation:
    """The chart's RBAC applied, and named pullpass replicas run under its ServiceAccount token."""

    kubectl: Kubectl
    kubeconfig: Path
    workdir: Path
    passwords: Passwords
    objects: list[Manifest]
    replicas: dict[str, Pullpass] = field(default_factory=dict)
    webhook_target: str | None = None
    baseline_identity: str = "pullpass-a"

    @property
    def lease_name(self) -> str:
        return flag(scope_args(self.objects), "lease-name")

    @property
    def lease_namespace(self) -> str:
        return flag(scope_args(self.objects), "lease-namespace")

    @property
    def credentials_namespace(self) -> str:
        return flag(scope_args(self.objects), "credentials-namespace")

    def start(self, identity: str, objects: list[Manifest] | None = None) -> Pullpass:
        """A replica with the chart's scope flags (from `objects`, default the chart's)."""
        assert identity not in self.replicas or not self.replicas[identity].running()
        args = scope_args(objects or self.objects)
        replica = Pullpass(
            self.kubeconfig,
            self.workdir / f"{identity}-{unique('run')}",
            credentials_namespace=flag(args, "credentials-namespace"),
            extra_args=(*args, f"--identity={identity}"),
            name=identity,
        )
        self.replicas[identity] = replica
        if self.webhook_target == identity:
            self.webhook_target = None  # new ports: the webhook must be registered again
        replica.start()
        return replica

    def kill(self, identity: str) -> None:
        """SIGKILL, as a node loss would: no shutdown path runs, the Lease is not released."""
        replica = self.replicas[identity]
        process = replica.component.process
        assert process is not None, f"{identity} was never started"
        assert process.poll() is None, f"{identity} is not running"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        replica.stop()

    def stop(self, identity: str) -> None:
        replica = self.replicas.pop(identity, None)
        if replica is not None:
            replica.stop()

    def stop_all(self) -> None:
        for identity in list(self.replicas):
            self.stop(identity)

    def running(self) -> set[str]:
        return {name for name, r in self.replicas.items() if r.running()}

    # -- the Lease ---------------------------------------------------------------------------

    def lease(self) -> dict[str, Any] | None:
        done = self.kubectl(
            "get", "lease", self.lease_name, "-n", self.lease_namespace, "-o", "json", check=False
        )
        if done.returncode != 0:
            assert "NotFound" in done.stderr, done.stderr
            return None
        lease: dict[str, Any] = json.loads(done.stdout)
        return lease

    def holder(self) -> str | None:
        lease = self.lease()
        return None if lease is None else lease["spec"].get("holderIdentity")

    def leading(self, identity: str) -> bool:
        """The Lease names it and the replica says so itself (`pullpass_leader 1`)."""
        replica = self.replicas.get(identity)
        if replica is None or not replica.running() or self.holder() != identity:
            return False
        return metric(replica.metrics_text(), "pullpass_leader") == 1.0

    def wait_leader(self, identity: str, timeout: float = 3 * LEASE_DURATION + 5) -> float:
        """Seconds until `identity` holds the Lease and knows it."""
        start = time.monotonic()
        try:
            eventually(lambda: self.leading(identity), timeout, f"{identity} to lead", every=0.2)
        except AssertionError as error:
            replica = self.replicas.get(identity)
            tail = replica.component.tail(15) if replica else "(not started)"
            raise AssertionError(f"{error}\nLease: {self.lease()}\nlog tail:\n{tail}") from None
        return time.monotonic() - start

    @contextlib.contextmanager
    def lease_held_elsewhere(self) -> Iterator[None]:
        """An outside holder keeps renewing the Lease, so no replica leads or writes copies.

        The renewals are what a live leader would do; leaving deletes the Lease, so a replica
        takes it at its next retry instead of waiting for it to expire.
        """
        stop = threading.Event()
        errors: list[str] = []

        def renew() -> None:
            while not stop.is_set():
                now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                patch = {
                    "spec": {
                        "holderIdentity": "e2e-outside-holder",
                        "leaseDurationSeconds": 60,
                        "renewTime": now,
                    }
                }
                done = self.kubectl(
                    "patch",
                    "lease",
                    self.lease_name,
                    "-n",
                    self.lease_namespace,
                    "--type=merge",
                    "-p",
                    json.dumps(patch),
                    check=False,
                )
                if done.returncode != 0:
                    errors.append(done.stderr)
                stop.wait(1.0)

        assert self.lease() is not None, "no Lease to take over"
        thread = threading.Thread(target=renew, name="outside-holder", daemon=True)
        thread.start()
        try:
            for identity in self.running():
                replica = self.replicas[identity]
                eventually(
                    partial(self._not_leading, replica),
                    3 * LEASE_DURATION,
                    f"{identity} to step down",
                    every=0.2,
                )
            yield
        finally:
            stop.set()
            thread.join(10)
            self.kubectl("delete", "lease", self.lease_name, "-n", self.lease_namespace)
        assert not errors, errors

    @staticmethod
    def _not_leading(replica: Pullpass) -> bool:
        return metric(replica.metrics_text(), "pullpass_leader") == 0.0

    # -- the webhook -------------------------------------------------------------------------

    def route_webhook(self, identity: str) -> None:
        """Register the webhook at this replica and wait until the API server calls it."""
        replica = self.replicas[identity]
        self.kubectl.apply(webhook_configuration(self.lease_name, replica.url, replica.ca_pem))
        namespace = create_namespace(self.kubectl, unique("scope-probe"))
        docker_registry_secret(
            self.kubectl, self.passwords, namespace, "probe", "probe.registry.example"
        )
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "probe", "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "probe.registry.example/app:1"}]},
        }

        def answered_by_replica() -> bool:
            before = metric(replica.metrics_text(), "pullpass_admissions_total")
            done = dry_run_create(self.kubectl, json.dumps(pod), check=False)
            if done.returncode != 0:
                return False
            names = [r["name"] for r in json.loads(done.stdout)["spec"].get("imagePullSecrets", [])]
            after = metric(replica.metrics_text(), "pullpass_admissions_total")
            return names == ["probe"] and after > before

        eventually(answered_by_replica, 30, f"the API server to call {identity}", every=0.3)
        self.kubectl("delete", "namespace", namespace, "--wait=false")
        self.webhook_target = identity

    # -- the state every test starts from ------------------------------------------------------

    def baseline(self) -> Pullpass:
        """One replica with the chart's default flags, leading, and serving the webhook."""
        identity = self.baseline_identity
        current = self.replicas.get(identity)
        if self.running() != {identity} or current is None:
            self.stop_all()
            current = self.start(identity)
        if self.holder() != identity or not self.leading(identity):
            self.wait_leader(identity)
        if self.webhook_target != identity:
            self.route_webhook(identity)
        return current

    def switch(self, identity: str, objects: list[Manifest]) -> Pullpass:
        """Replace every replica with one started from another rendering of the chart."""
        self.stop_all()
        replica = self.start(identity, objects)
        self.wait_leader(identity)
        self.route_webhook(identity)
        return replica
