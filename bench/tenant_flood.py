#!/usr/bin/env python3
"""A tenant's flood of 1 MiB registry-credential Secrets against pullpass (issue 22, item 1).

On the real control plane (localcluster's etcd + kube-apiserver + kube-controller-manager, on
loopback), a tenant creates, then keeps replacing, Secrets of about 1 MiB (30,000 registry keys
each, new keys every time) in a namespace pullpass does not serve. Meanwhile pods are created
one after another in an enabled namespace, each with an image its own credential serves and a
sidecar image served nowhere (so every review asks about the whole cluster's keys). Reported:
each pod create's time and whether it got its credential, and pullpass's RSS growth.

    .venv/bin/python bench/tenant_flood.py                                   # this tree
    .venv/bin/python bench/tenant_flood.py --baseline f6cc657                # and side by side

`--baseline COMMIT` runs the same flood against that commit's code too (checked out with
`git worktree` into a temporary directory, removed afterwards), each on a fresh control plane.
Targets: every pod served within 1 s, RSS growth under 100 MiB. `webhook_over_1s` counts, from
the API server's own histogram, its calls to pullpass that took over 1 s: a create slower than
that with no such call spent the time in the API server or etcd, not in pullpass. Run by hand;
not in `make test`.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from localcluster.build import build_control_plane  # noqa: E402
from localcluster.control_plane import ControlPlane  # noqa: E402
from localcluster.kubectl import Kubectl  # noqa: E402
from localcluster.tenant_flood import Admin, SecretFlood  # noqa: E402
from localcluster.webhook import INJECT_LABEL, Pullpass, webhook_configuration  # noqa: E402

HOME = "pullpass-system"
REGISTRY = "served.registry.example"
SIDECAR = "sidecar.mirror.example/agent:1"
WEBHOOK = "pods.pullpass.io"
TARGET_SECONDS = 1.0
TARGET_RSS_MIB = 100


def say(text: str) -> None:
    print(text, flush=True)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _namespace(name: str, enabled: bool) -> dict[str, Any]:
    labels = {INJECT_LABEL: "enabled"} if enabled else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def _pod(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "containers": [
                {"name": "app", "image": f"{REGISTRY}/team/app:1"},
                {"name": "agent", "image": SIDECAR},
            ]
        },
    }


def _credential(kubectl: Kubectl, namespace: str) -> None:
    kubectl(
        "create",
        "secret",
        "docker-registry",
        "own-reg",
        "-n",
        namespace,
        f"--docker-server={REGISTRY}",
        "--docker-username=bench",
        "--docker-password=bench-password",
    )


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"tenant_flood: {what} not done within {timeout:.0f}s")
        time.sleep(0.2)


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.2):
            self.peak = max(self.peak, rss_mib(self.pid))

    def stop(self) -> None:
        self._done.set()
        self.join(5)


def run_one(label: str, code: Path, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One fresh control plane, pullpass from `code`, the flood and the pod creates."""
    cluster = ControlPlane(build_control_plane(), workdir / "cluster")
    server: Pullpass | None = None
    try:
        cluster.start()
        kubectl = Kubectl(cluster.kubeconfig)
        admin = Admin(cluster)
        for name, enabled in ((HOME, False), ("flooder", False), ("served", True)):
            admin.request("POST", "/api/v1/namespaces", _namespace(name, enabled))
        _wait(
            lambda: kubectl("get", "sa", "default", "-n", "served", check=False).returncode == 0,
            60,
            "the served namespace's ServiceAccount",
        )
        _credential(kubectl, "served")
        server = Pullpass(
            cluster.kubeconfig,
            workdir / "pullpass",
            credentials_namespace=HOME,
            extra_args=("--log-level=warning", "--no-replicate"),
            name=f"pullpass-{label}",
        )
        # The code under test: PYTHONPATH comes before the installed package.
        server.component.env = {**(server.component.env or {}), "PYTHONPATH": str(code)}
        server.start()
        assert server.component.process is not None
        pid = server.component.process.pid
        kubectl.apply(webhook_configuration("pullpass", server.url, server.ca_pem))
        _wait(lambda: _create(admin, "warm")[1], 30, "the API server to call pullpass")
        calls_before = webhook_calls(cluster)
        rss_before = rss_mib(pid)
        sampler = RssSampler(pid)
        sampler.start()
        flood = SecretFlood(cluster, "flooder", args.secrets)
        flood.start()
        times: list[float] = []
        served = 0
        started = time.monotonic()
        try:
            n = 0
            while time.monotonic() - started < args.seconds:
                took, ok = _create(admin, f"p{n}")
                times.append(took)
                served += ok
                n += 1
                time.sleep(max(0.0, args.interval - took))
        finally:
            flood.stop()
            sampler.stop()
        alive = server.running()
        calls_after = webhook_calls(cluster)
        calls = calls_after[0] - calls_before[0]
        within = calls_after[1] - calls_before[1]
        return {
            "code": label,
            "flood_writes": flood.writes,
            "flood_mib": round(flood.writes * 0.98, 0),
            "pods": len(times),
            "served": served,
            "over_1s": sum(t > TARGET_SECONDS for t in times),
            "p50_ms": round(statistics.median(times) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1),
            "webhook_calls": int(calls),
            "webhook_over_1s": int(calls - within),
            "rss_before_mib": round(rss_before, 1),
            "rss_peak_mib": round(sampler.peak, 1),
            "rss_growth_mib": round(sampler.peak - rss_before, 1),
            "pullpass_alive": alive,
        }
    finally:
        if server is not None:
            server.stop()
        cluster.stop()


def webhook_calls(cluster: ControlPlane) -> tuple[float, float]:
    """The API server's own count of its calls to pullpass's webhook: all, and those within 1 s
    (so what is left is pullpass's share of a slow create, not etcd's or the API server's)."""
    status, text = cluster.get("/metrics", timeout=20)
    if status != 200:
        raise RuntimeError(f"apiserver /metrics: {status}")
    total = within = 0.0
    pattern = r"^apiserver_admission_webhook_admission_duration_seconds_bucket\{(.*)\} (\S+)$"
    for m in re.finditer(pattern, text.decode(), re.M):
        labels = m.group(1)
        if f'name="{WEBHOOK}"' not in labels:
            continue
        if 'le="+Inf"' in labels:
            total += float(m.group(2))
        elif 'le="1"' in labels:
            within += float(m.group(2))
    return total, within


def _create(admin: Admin, name: str) -> tuple[float, bool]:
    """One pod create in the served namespace: seconds, and whether it got its credential."""
    started = time.monotonic()
    status, body = admin.request("POST", "/api/v1/namespaces/served/pods", _pod("served", name))
    took = time.monotonic() - started
    if status != 201:
        return took, False
    secrets = json.loads(body)["spec"].get("imagePullSecrets") or []
    return took, [s["name"] for s in secrets] == ["own-reg"]


def _table(rows: list[dict[str, Any]]) -> None:
    keys = list(rows[0])
    say("| " + " | ".join(keys) + " |")
    say("|" + "---|" * len(keys))
    for row in rows:
        say("| " + " | ".join(str(row[k]) for k in keys) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", help="also run this commit's code, side by side")
    parser.add_argument("--secrets", type=int, default=8, help="the tenant's Secrets")
    parser.add_argument("--seconds", type=float, default=120, help="how long the flood lasts")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between pods")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="pullpass-tenant-flood-"))
    runs = [("this tree", REPO)]
    if args.baseline:
        baseline = workdir / "baseline"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(baseline), args.baseline],
            check=True,
            capture_output=True,
        )
        runs.append((f"baseline {args.baseline}", baseline))
    rows = []
    try:
        for i, (label, code) in enumerate(runs):
            say(f"# {label}: {args.secrets} Secrets of ~1 MiB for {args.seconds:.0f}s")
            rows.append(run_one(label, code, workdir / f"run-{i}", args))
            say(json.dumps(rows[-1]))
    finally:
        if args.baseline:
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(REPO),
                    "worktree",
                    "remove",
                    "--force",
                    str(workdir / "baseline"),
                ],
                check=False,
            )
        shutil.rmtree(workdir, ignore_errors=True)
    _table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
