#!/usr/bin/env python3
"""Policy mode's decision CEL, step by step, in process with kube-apiserver's own CEL environment.

    .venv/bin/python bench/celcost.py [--containers N]

Builds `celcost/` once (Go, k8s.io/apiserver v0.36.3's base CEL environment: its libraries, cost
tracking and optimisations) and feeds it the mutating policy's variables
(`app.core.policy.cel.variables`, as `pullpass-namespace` binds them) over a namespace object with
5 credentials of the fixtures' keys (`make_fixtures.KEYS`, two each, and Docker Hub's), and a pod
of the `cost` bench's images (`realcluster.IMAGES`).
It prints each variable's µs and allocations per evaluation: what the API server's CEL costs
without the pod's conversion, the patch pipeline or the JSON Patch expression (its `JSONPatch`
type exists only in the API server's mutating environment). Run by hand; not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from make_fixtures import KEYS  # noqa: E402
from realcluster import IMAGES  # noqa: E402

import bench  # noqa: E402
from app.core.credentials.credential import Credential, NamespaceInfo  # noqa: E402
from app.core.credentials.scope import ScopeSettings, resolve  # noqa: E402
from app.core.policy import cel  # noqa: E402
from app.core.policy.parameters import namespace_spec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--containers", type=int, default=3, help="containers of the pod")
    args = parser.parse_args()
    dockercfg = "kubernetes.io/dockerconfigjson"
    hub = "https://index.docker.io/v1/"
    own = [
        Credential("team", f"regcred-{i}", dockercfg, {}, {}, (KEYS[2 * i], KEYS[2 * i + 1], hub))
        for i in range(5)
    ]
    resolution = resolve(NamespaceInfo("team", {}), own, [], ScopeSettings("pullpass-system"))
    images = (IMAGES * args.containers)[: args.containers]
    pod = {"spec": {"containers": [{"name": f"c{i}", "image": i_} for i, i_ in enumerate(images)]}}
    steps = [
        [v["name"], v["expression"]]
        for v in cel.variables("params.spec.credentials", "[params.spec.credentialsIndex]")
    ]
    payload = {"object": pod, "params": namespace_spec(resolution), "steps": steps}
    binary = bench.go_build(BENCH / "celcost", "celcost")
    print(f"<!-- pod of {len(images)} containers, 5 credentials in scope; {bench.machine()} -->")
    print("| variable | µs per evaluation | allocations |\n|---|---|---|", flush=True)
    subprocess.run([str(binary)], input=json.dumps(payload), text=True, check=True)


if __name__ == "__main__":
    main()
