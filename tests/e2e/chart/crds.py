"""The upstream CRDs for the chart's optional kinds, so the API server validates them.

The test cluster runs neither cert-manager nor the Prometheus Operator, so without their CRDs a
server-side dry run of `certificates.mode=cert-manager` or `serviceMonitor.enabled=true` could
only fail with "no matches for kind". scripts/crds fetches the exact CRDs those projects publish
(cert-manager's `deploy/crds`, the Prometheus Operator's `example/prometheus-operator-crd`) from
their pinned Go modules, so with `--validate=strict` the real API server refuses a misspelt or
misplaced field, a wrong enum value or a malformed duration in the chart, as a cluster running
them would.
"""

from __future__ import annotations

from localcluster.kubectl import Kubectl
from tests.kit.chart import crds_dir
from tests.kit.eventually import eventually


def install(kubectl: Kubectl) -> None:
    """Apply the CRDs and wait until they are Established and served (bounded).

    Server-side apply: the Issuer CRD is larger than the annotation client-side apply keeps.
    """
    files = sorted(crds_dir().glob("*.yaml"))
    # Upstream names the files <group>_<plural>.yaml, and the CRDs <plural>.<group>.
    names = [f"crd/{plural}.{group}" for group, plural in (f.stem.split("_", 1) for f in files)]
    kubectl("apply", "--server-side", "--force-conflicts", *(f"-f={f}" for f in files))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    for name in names:
        resource = name.removeprefix("crd/")

        def served(resource: str = resource) -> bool:
            return kubectl("get", resource, "-A", check=False).returncode == 0

        eventually(served, 30, f"{resource} to be served", every=0.3)
