#!/usr/bin/env python3
"""pullpass through a real control plane: index scale and path cost.

`bench.py scale` measures the index through `serve --objects`; these two commands measure what
only a real kube-apiserver can show: the paged list/watch at 10,000 namespaces and 50,000
Secrets, and what the webhook adds to a pod creation on the apiserver's own path.

    .venv/bin/python bench/realcluster.py scale              # 50 vs 50,000 Secrets via the API
    .venv/bin/python bench/realcluster.py cost --samples 500  # pullpass, Go reference, policy
                                                              # mode, Kyverno, no admission
    .venv/bin/python bench/realcluster.py restart-writes     # Secret writes of an in-sync restart

Everything runs on loopback (localcluster's etcd + kube-apiserver +
kube-controller-manager), every step has a time limit, and every process is stopped at the end.
Run by hand; not part of `make test`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import math
import queue
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

import bench  # noqa: E402
from app.core.policy.manifests import manifests  # noqa: E402
from localcluster.build import build_control_plane, script  # noqa: E402
from localcluster.control_plane import ControlPlane  # noqa: E402
from localcluster.kubectl import Kubectl  # noqa: E402
from localcluster.processes import free_port  # noqa: E402
from localcluster.webhook import Pullpass, webhook_configuration  # noqa: E402

CREDENTIALS_NAMESPACE = "pullpass-system"
WEBHOOK = "pods.pullpass.io"


def say(text: str) -> None:
    print(text, flush=True)


# --- talking to the apiserver --------------------------------------------------------------


class Api:
    """Keep-alive HTTPS to the apiserver as admin, one connection per thread.

    kubectl or the official client per object would spend most of the time on process start or
    model objects; raw JSON over a reused TLS connection keeps loading 60,000 objects to about
    a minute and keeps the cost samples free of client overhead.
    """

    def __init__(self, cluster: ControlPlane) -> None:
        self.port = cluster.apiserver_port
        self.context = cluster.admin_ssl_context()
        self._local = threading.local()
        # Pod creates answered with a pullpass warning, by namespace (cost's sanity check).
        self.warned: dict[str, int] = {}

    def _conn(self) -> http.client.HTTPSConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", self.port, context=self.context, timeout=30
            )
            self._local.conn = conn
        return conn

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """One request; reconnects once if the kept-alive connection was closed."""
        for attempt in (1, 2):
            conn = self._conn()
            try:
                headers = {"Content-Type": "application/json"} if body is not None else {}
                conn.request(method, path, body, headers)
                answer = conn.getresponse()
                if "pullpass: " in (answer.getheader("Warning") or "") and "/pods" in path:
                    namespace = path.split("/namespaces/")[1].split("/", maxsplit=1)[0]
                    self.warned[namespace] = self.warned.get(namespace, 0) + 1
                return answer.status, answer.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def create(self, obj: dict[str, Any]) -> None:
        """POST one Namespace or Secret; 409 (already there) is fine, 429 is retried."""
        if obj["kind"] == "Namespace":
            path = "/api/v1/namespaces"
        else:
            path = f"/api/v1/namespaces/{obj['metadata']['namespace']}/{obj['kind'].lower()}s"
        body = json.dumps(obj).encode()
        for _ in range(20):
            status, data = self.request("POST", path, body)
            if status in (200, 201, 409):
                return
            if status != 429:
                raise RuntimeError(f"POST {path}: {status} {data[:300]!r}")
            time.sleep(0.5)
        raise RuntimeError(f"POST {path}: still 429 after 20 tries")

    def count(self, path: str) -> int:
        """Objects in a collection, from one item and remainingItemCount."""
        status, data = self.request("GET", f"{path}?limit=1")
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        page = json.loads(data)
        return len(page["items"]) + int(page["metadata"].get("remainingItemCount") or 0)

    def at_least(self, path: str, count: int) -> bool:
        return self.count(path) >= count

    def exists(self, path: str) -> bool:
        return self.request("GET", path)[0] == 200


def load(api: Api, objects: list[dict[str, Any]], threads: int, timeout: float) -> float:
    """Create namespaces, then their Secrets, with a thread pool; returns the seconds taken."""
    started = time.monotonic()
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    rest = [o for o in objects if o["kind"] != "Namespace"]
    for batch in (namespaces, rest):
        _parallel(api.create, batch, threads, started + timeout)
    return time.monotonic() - started


def _parallel(
    work: Callable[[dict[str, Any]], None],
    items: Iterable[dict[str, Any]],
    threads: int,
    deadline: float,
) -> None:
    todo: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
    for item in items:
        todo.put(item)
    errors: list[BaseException] = []

    def worker() -> None:
        while not errors and time.monotonic() < deadline:
            item = todo.get()
            if item is None:
                return
            try:
                work(item)
            except BaseException as error:
                errors.append(error)
                return

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for _ in pool:
        todo.put(None)
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(max(0.0, deadline - time.monotonic()) + 1)
    if errors:
        raise errors[0]
    if any(t.is_alive() for t in pool) or not todo.empty():
        raise SystemExit("realcluster: loading the apiserver overran its time limit")


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.5)
    raise SystemExit(f"realcluster: {what} not done within {timeout:.0f}s")


# --- pullpass ------------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) in MB from /proc: what the kernel charges, not what Python sees."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(line.split()[1]) / 1024
    return out


def start_pullpass(
    cluster: ControlPlane,
    workdir: Path,
    name: str,
    replicate: bool,
    *,
    pin: str | None = None,
    extra: tuple[str, ...] = (),
    admission: str = "webhook",
) -> tuple[Pullpass, float]:
    """Start `pullpass serve` against the apiserver; seconds from exec to /readyz 200.

    /readyz turns 200 once every watcher has its first full list in the index, so this is the
    time a fresh replica needs before the Service may send it reviews.
    """
    server = Pullpass(
        cluster.kubeconfig,
        workdir / name,
        credentials_namespace=CREDENTIALS_NAMESPACE,
        # Last one wins: debug logging (the e2e default) is not what a cluster runs.
        extra_args=(
            "--log-level=warning",
            "--replicate" if replicate else "--no-replicate",
            *extra,
        ),
        name=name,
        admission=admission,
    )
    if pin is not None:
        server.component.argv = [bench.need("taskset"), "-c", pin, *server.component.argv]
    started = time.monotonic()
    server.component.start()
    deadline = started + 120
    while server.readyz() != 200:
        if not server.running() or time.monotonic() > deadline:
            server.stop()
            raise SystemExit(f"realcluster: {name} not ready:\n{server.component.tail()}")
        time.sleep(0.02)
    return server, time.monotonic() - started


def pid_of(server: Pullpass) -> int:
    """The Python process itself (`taskset` execs into it, so the pid is the same)."""
    assert server.component.process is not None
    return server.component.process.pid


def same_reviews(fx: Path, out: Path, namespaces: int) -> Path:
    """The fixture reviews moved into the first `namespaces` namespaces, present in both runs.

    Both the small and the large index then make exactly the same decisions per request, so
    throughput differs only by the size of the index.
    """
    out.mkdir(parents=True, exist_ok=True)
    for k, path in enumerate(bench.reviews(fx)):
        review = json.loads(path.read_text())
        namespace = f"team-{k % namespaces:05d}"
        review["request"]["namespace"] = namespace
        review["request"]["object"]["metadata"]["namespace"] = namespace
        (out / path.name).write_text(json.dumps(review))
    shutil.copy(fx / "ca.crt", out / "ca.crt")
    return out


def patched(server: Pullpass, fx: Path) -> int:
    """How many of the reviews get a patch (a sanity check that the index is really used)."""
    context = ssl.create_default_context(cafile=str(server.ca_file))
    count = 0
    for path in bench.reviews(fx):
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
        conn.request("POST", "/mutate", path.read_bytes(), {"Content-Type": "application/json"})
        answer = json.loads(conn.getresponse().read())
        conn.close()
        count += "patch" in (answer.get("response") or {})
    return count


# --- scale ---------------------------------------------------------------------------------


def cmd_scale(args: argparse.Namespace) -> dict[str, object]:
    fx = bench.fixtures(args.namespaces, 5)
    objects = json.loads((fx / "objects.json").read_text())["items"]
    per_namespace = 1 + 5
    small_objects = objects[: args.small * per_namespace]
    workdir = Path(tempfile.mkdtemp(prefix="pullpass-realcluster-"))
    reviews_fx = same_reviews(fx, workdir / "reviews", args.small)
    results: dict[str, object] = {}
    say(f"# scale through the apiserver: {bench.machine()}; load average {bench.loadavg()}")
    cluster = ControlPlane(build_control_plane(), workdir / "cluster")
    if args.kcm_qps:
        # Its default 20 requests/s makes the ServiceAccount per namespace take ~8 minutes.
        cluster.controller_manager.argv += [
            f"--kube-api-qps={args.kcm_qps}",
            f"--kube-api-burst={2 * args.kcm_qps}",
        ]
    if args.max_requests_inflight:
        cluster.apiserver.argv.append(f"--max-requests-inflight={args.max_requests_inflight}")
    try:
        cluster.start()
        api = Api(cluster)
        api.create(_namespace(CREDENTIALS_NAMESPACE))
        rows = []
        for label, batch in (("small", small_objects), ("large", objects[len(small_objects) :])):
            took = load(api, batch, args.threads, timeout=args.load_timeout)
            secrets = api.count("/api/v1/secrets")
            namespaces = api.count("/api/v1/namespaces")
            say(
                f"<!-- loaded {len(batch)} objects in {took:.1f}s "
                f"({len(batch) / took:.0f}/s); cluster now {namespaces} namespaces, "
                f"{secrets} Secrets -->"
            )
            # The controller-manager adds a ServiceAccount and a ConfigMap per namespace: let it
            # finish so its writes do not land inside the measurement.
            wait_for(
                partial(api.at_least, "/api/v1/serviceaccounts", namespaces),
                args.load_timeout,
                "the controller-manager's ServiceAccounts",
            )
            time.sleep(2)
            for start in range(args.starts):
                for replicate in (False, True):
                    row = _measure(
                        cluster,
                        workdir / f"start-{start}",
                        f"pp-{label}-{int(replicate)}",
                        replicate,
                        wrk_seconds=args.duration if start == 0 and not replicate else 0,
                        reviews_fx=reviews_fx,
                    )
                    row.update(index=label, namespaces=namespaces, secrets=secrets, start=start)
                    rows.append(row)
                    say(json.dumps(row))
        results["rows"] = rows
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    _scale_table(rows)
    return results


def _measure(
    cluster: ControlPlane,
    workdir: Path,
    name: str,
    replicate: bool,
    *,
    wrk_seconds: int,
    reviews_fx: Path,
) -> dict[str, Any]:
    """One pullpass start on core 0: time to ready, RSS, and optionally wrk throughput."""
    load_before = bench.loadavg()
    server, ready_s = start_pullpass(cluster, workdir, name, replicate, pin="0")
    try:
        at_ready = proc_status(pid_of(server))
        time.sleep(3)
        settled = proc_status(pid_of(server))
        row: dict[str, Any] = {
            "mode": "replication" if replicate else "--no-replicate",
            "ready_s": ready_s,
            "rss_ready_mb": at_ready["VmRSS"],
            "rss_settled_mb": settled["VmRSS"],
            "peak_mb": settled["VmHWM"],
            "load": load_before,
        }
        if wrk_seconds:
            row["patched"] = patched(server, reviews_fx)
            base = f"https://127.0.0.1:{server.port}/mutate"
            bench.wrk(base, reviews_fx, 2)  # warm-up, not measured
            rounds = [bench.wrk(base, reviews_fx, wrk_seconds) for _ in range(2)]
            row["rps"] = [r.rps for r in rounds]
            row["p99_ms"] = [r.p99_ms for r in rounds]
            row["errors"] = sum(r.non2xx + r.socket_errors for r in rounds)
    finally:
        server.stop()
    return row


def _scale_table(rows: list[dict[str, Any]]) -> None:
    say(
        "\n| Secrets (namespaces) | mode | start | start to ready | RSS at ready | RSS +3 s "
        "| peak RSS | load avg |"
    )
    say("|---|---|---|---|---|---|---|---|")
    for r in rows:
        say(
            f"| {r['secrets']:,} ({r['namespaces']:,}) | {r['mode']} | {r['start'] + 1} "
            f"| {r['ready_s']:.2f} s "
            f"| {r['rss_ready_mb']:.0f} MB | {r['rss_settled_mb']:.0f} MB | {r['peak_mb']:.0f} MB "
            f"| {r['load']} |"
        )
    plain: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["mode"] == "--no-replicate":
            plain.setdefault(r["index"], r)  # the first start, the one with wrk figures
    if {"small", "large"} <= plain.keys():
        small, large = plain["small"], plain["large"]
        per = (large["rss_settled_mb"] - small["rss_settled_mb"]) / (
            (large["secrets"] - small["secrets"]) / 10_000
        )
        say(f"\nmemory per 10,000 Secrets (--no-replicate, RSS +3 s): {per:.1f} MB")
        if "rps" in large:
            say("\n| index | reviews patched | requests/s (2 rounds) | p99 ms | errors |")
            say("|---|---|---|---|---|")
            for r in (small, large):
                say(
                    f"| {r['secrets']:,} Secrets | {r['patched']}/16 "
                    f"| {', '.join(f'{x:.0f}' for x in r['rps'])} "
                    f"| {', '.join(f'{x:.2f}' for x in r['p99_ms'])} | {r['errors']} |"
                )
            ratio = statistics.mean(large["rps"]) / statistics.mean(small["rps"])
            say(f"\nthroughput large / small: {ratio:.2f} (target >= 0.95)")


# --- restart-writes ------------------------------------------------------------------------


def _namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
    }


def _listed(items: list[dict[str, Any]]) -> dict[str, Any]:
    """One `kubectl apply` of several objects."""
    return {"apiVersion": "v1", "kind": "List", "items": items}


def _churn_objects(namespaces: int, sources: int) -> list[dict[str, Any]]:
    """Enabled namespaces of one project, and that project's sources in the credentials
    namespace: every namespace needs a copy of every source."""
    project = {"pullpass.io/inject": "enabled", "pullpass.io/project": "bench"}
    objects: list[dict[str, Any]] = [_namespace(f"rw-{k:05d}", project) for k in range(namespaces)]
    config = json.dumps({"auths": {"quay.io": {"auth": "YmVuY2g6YmVuY2g="}}}).encode()
    for k in range(sources):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/dockerconfigjson",
                "metadata": {
                    "name": f"bench-source-{k}",
                    "namespace": CREDENTIALS_NAMESPACE,
                    "labels": {"pullpass.io/project": "bench"},
                },
                "data": {".dockerconfigjson": base64.b64encode(config).decode()},
            }
        )
    return objects


def _copies_in_sync(server: Pullpass) -> float:
    text = server.metrics_text()
    found = re.search(r'^pullpass_copies\{state="in_sync"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def cmd_restart_writes(args: argparse.Namespace) -> dict[str, object]:
    """Copies written once, then the same replica restarted: the API server's own count of
    Secret writes (`apiserver_request_total`, every code) from the stop until after the new
    process's first full pass."""
    workdir = Path(tempfile.mkdtemp(prefix="pullpass-restart-writes-"))
    say(f"# restart writes: {bench.machine()}; load average {bench.loadavg()}")
    cluster = ControlPlane(build_control_plane(), workdir / "cluster")
    cluster.controller_manager.argv += [f"--kube-api-qps={args.kcm_qps}"]
    cluster.controller_manager.argv += [f"--kube-api-burst={2 * args.kcm_qps}"]
    copies = args.namespaces * args.sources
    replica = ("--identity=bench-replica",)
    result: dict[str, object] = {"namespaces": args.namespaces, "copies": copies}
    try:
        cluster.start()
        api = Api(cluster)
        api.create(_namespace(CREDENTIALS_NAMESPACE))
        took = load(api, _churn_objects(args.namespaces, args.sources), args.threads, 900)
        say(f"<!-- loaded {args.namespaces} namespaces, {args.sources} sources: {took:.0f}s -->")
        wait_for(
            partial(api.at_least, "/api/v1/serviceaccounts", args.namespaces),
            900,
            "the controller-manager's ServiceAccounts",
        )
        before = cluster.request_count("secrets")
        first, _ = start_pullpass(cluster, workdir, "pp-first", True, extra=replica)
        started = time.monotonic()
        try:
            wait_for(lambda: _copies_in_sync(first) >= copies, args.timeout, "the first copies")
            result["first_pass_s"] = time.monotonic() - started
        finally:
            first.stop()
        time.sleep(2)
        result["first_writes"] = cluster.request_count("secrets") - before
        before = cluster.request_count("secrets")
        second, ready_s = start_pullpass(cluster, workdir, "pp-restarted", True, extra=replica)
        started = time.monotonic()
        try:
            wait_for(lambda: _copies_in_sync(second) >= copies, args.timeout, "the restart's pass")
            result["restart_ready_s"] = ready_s
            result["restart_pass_s"] = time.monotonic() - started
            time.sleep(args.settle)
            result["restart_writes"] = cluster.request_count("secrets") - before
            result["restart_rss_mb"] = proc_status(pid_of(second))["VmRSS"]
        finally:
            second.stop()
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    say(json.dumps(result))
    say(
        "\n| namespaces | copies | first start: Secret writes | restart: Secret writes "
        "| restart: ready, then every copy checked |"
    )
    say("|---|---|---|---|---|")
    say(
        f"| {args.namespaces:,} | {copies:,} | {result['first_writes']:,.0f} "
        f"| **{result['restart_writes']:,.0f}** | {result['restart_ready_s']:.1f} s, "
        f"+{result['restart_pass_s']:.1f} s |"
    )
    return result


# --- cost ----------------------------------------------------------------------------------


def pod(namespace: str, images: Iterable[str]) -> bytes:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"generateName": "cost-", "namespace": namespace},
            "spec": {"containers": containers},
        }
    ).encode()


def webhook_histogram(cluster: ControlPlane) -> dict[float, float]:
    """The apiserver's own timing of calls to our webhook (all label sets summed)."""
    status, text = cluster.get("/metrics", timeout=20)
    if status != 200:
        return {}
    buckets: dict[float, float] = {}
    pattern = r"^apiserver_admission_webhook_admission_duration_seconds_bucket\{(.*)\} (\S+)$"
    for m in re.finditer(pattern, text.decode(), re.M):
        labels = m.group(1)
        if f'name="{WEBHOOK}"' not in labels:
            continue
        le = re.search(r'le="([^"]+)"', labels)
        assert le is not None
        key = float(le.group(1))
        buckets[key] = buckets.get(key, 0.0) + float(m.group(2))
    return buckets


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


IMAGES = ["quay.io/acme/web:1.2", "nginx:1.27", "ghcr.io/acme/api:v3"]


def _host(credential: int, key: int) -> str:
    return f"r{credential}k{key}.registry.example"


def _secret(name: str, hosts: Iterable[str]) -> dict[str, Any]:
    """A dockerconfigjson Secret in ON with a login for each of `hosts`."""
    auth = base64.b64encode(b"bench:not-a-password").decode()
    config = {"auths": {host: {"auth": auth} for host in hosts}}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": name, "namespace": ON},
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }


def _extra_credentials(count: int, keys: int) -> list[dict[str, Any]]:
    """`count` dockerconfigjson Secrets beyond the fixtures' 5, each with `keys` exact hosts."""
    return [_secret(f"bench-extra-{i}", (_host(i, k) for k in range(keys))) for i in range(count)]


def _images(containers: int, extra: int, keys: int) -> list[str]:
    """IMAGES, then one image for each generated credential, served by its last key (the worst
    place in a loop over keys), then round again."""
    more = [f"{_host(i, keys - 1)}/app:{i}" for i in range(extra)]
    tail = (more + IMAGES) * containers
    return (IMAGES + tail)[:containers]


ON, REF, OFF, POL = "team-00000", "cost-reference", "cost-off", "cost-policy"
KYV, FLOOR, LEAN = "cost-kyverno", "cost-floor", "cost-policy-lean"
WARN, PROJ = "cost-policy-warn", "cost-policy-project"
# The project of PROJ, whose credentials are sources in the credentials namespace.
PROJECT = "bench-cost-project"
# Every sample round creates one pod in each, in rotating order.
CONDITIONS = {
    ON: "pullpass called",
    REF: "Go reference called",
    POL: "policy mode (no webhook)",
    WARN: "policy mode, a warning possible",
    PROJ: "policy mode, project credentials, a warning possible",
    LEAN: "policy mode without its warnings policy",
    KYV: "Kyverno sample policy",
    FLOOR: "one-name MutatingAdmissionPolicy (the floor)",
    OFF: "no webhook called",
}
REF_LABEL = "bench.pullpass.io/reference"
POLICY_LABEL = "bench.pullpass.io/policy"
KYVERNO_LABEL = "bench.pullpass.io/kyverno"
FLOOR_LABEL = "bench.pullpass.io/floor"
KYVERNO_NAMESPACE = "kyverno"
KYVERNO_POLICY = BENCH / "kyverno-add-imagepullsecrets.yaml"


def kyverno_build() -> Path | None:
    """scripts/kyverno's cached build (binary and CRDs), or None when it is not built.

    The build takes minutes on two cores, so the bench never starts one; without it the Kyverno
    row says "not built".
    """
    done = subprocess.run(
        [str(script("kyverno")), "--cached"], capture_output=True, text=True, check=False
    )
    return Path(done.stdout.split()[-1]) if done.returncode == 0 else None


def _policy_mode(kubectl: Kubectl) -> None:
    """Policy mode's objects, its bindings narrowed to the policy namespace and the pullpass
    webhook kept out of it, so each condition meets one admission path; a second set, without
    the warnings policy (`--no-warnings`), for the lean namespace."""
    narrowed = []
    for value, warnings in (("enabled", True), ("lean", False)):
        for obj in manifests(CREDENTIALS_NAMESPACE, "pullpass.io/project", warnings):
            kind = obj["kind"]
            if kind == "CustomResourceDefinition" and not warnings:
                continue
            if not warnings:
                obj["metadata"]["name"] += "-lean"
            if kind.endswith("Binding"):
                obj["spec"]["policyName"] = obj["metadata"]["name"]
                selector = obj["spec"]["matchResources"]["namespaceSelector"]
                selector["matchExpressions"].append(
                    {"key": POLICY_LABEL, "operator": "In", "values": [value]}
                )
            narrowed.append(obj)
    kubectl.apply(_listed(narrowed))


def _floor_policy(kubectl: Kubectl) -> None:
    """The cheapest mutating policy that does the job for one Secret: it adds one fixed name
    when none is listed. What it adds is the API server's own price of any such policy."""
    add = (
        "has(object.spec.imagePullSecrets) ? [] : [JSONPatch{op: 'add', "
        "path: '/spec/imagePullSecrets', value: [{'name': 'regcred-1'}]}]"
    )
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": "bench-floor"},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ]
            },
            "failurePolicy": "Ignore",
            "reinvocationPolicy": "Never",
            "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": add}}],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": "bench-floor"},
        "spec": {
            "policyName": "bench-floor",
            "matchResources": {"namespaceSelector": {"matchLabels": {FLOOR_LABEL: "enabled"}}},
        },
    }
    kubectl.apply(_listed([policy, binding]))


def _webhook_for_pods(kubectl: Kubectl, name: str) -> bool:
    """The MutatingWebhookConfiguration `name` exists and one of its webhooks is for pods."""
    done = kubectl("get", "mutatingwebhookconfiguration", name, "-o", "json", check=False)
    if done.returncode != 0:
        return False
    hooks = json.loads(done.stdout).get("webhooks") or []
    return any("pods" in rule["resources"] for hook in hooks for rule in hook.get("rules", []))


def _start_kyverno(
    cluster: ControlPlane, build: Path, workdir: Path, stack: contextlib.ExitStack
) -> float:
    """Kyverno out of cluster on the server core with its sample policy, its resource webhook
    scoped to cost-kyverno by its own `webhooks` setting; returns seconds from exec
    until that webhook is registered for pods."""
    kubectl = Kubectl(cluster.kubeconfig)
    kubectl("apply", "--server-side", "-R", "-f", str(build / "crds"))
    kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    scope = {"namespaceSelector": {"matchLabels": {KYVERNO_LABEL: "enabled"}}}
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kyverno", "namespace": KYVERNO_NAMESPACE},
            "data": {"webhooks": json.dumps(scope)},
        }
    )
    port = free_port()
    cmd = [
        bench.need("taskset"),
        "-c",
        bench.SERVER_CORE,
        str(build / "kyverno"),
        f"--kubeconfig={cluster.kubeconfig}",
        f"--serverIP=127.0.0.1:{port}",
        "--webhookServerHost=127.0.0.1",
        f"--webhookServerPort={port}",
        "--caSecretName=kyverno-ca",
        "--tlsSecretName=kyverno-tls",
        "--metricsHost=127.0.0.1",
        f"--metricsPort={free_port()}",
        "--controllerRuntimeMetricsAddress=0",
        "--omitEvents=PolicyApplied,PolicySkipped",  # the chart's default
    ]
    # What Kyverno's chart sets and Kyverno insists on (the ConfigMaps: "kyverno", its default).
    env = {
        "GOMAXPROCS": "1",
        "KYVERNO_NAMESPACE": KYVERNO_NAMESPACE,
        "KYVERNO_SERVICEACCOUNT_NAME": "kyverno",
        "KYVERNO_DEPLOYMENT": "kyverno",
        "KYVERNO_POD_NAME": "kyverno-bench",
        "INIT_CONFIG": "kyverno",
        "METRICS_CONFIG": "kyverno-metrics",
    }
    log = workdir / "kyverno.log"
    started = time.monotonic()
    proc = stack.enter_context(
        bench.running(cmd, "kyverno", f"https://127.0.0.1:{port}", env=env, log=log)
    )

    def alive(check: Callable[[], bool]) -> bool:
        if proc.process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"realcluster: kyverno exited {proc.process.returncode}:\n{tail}")
        return check()

    # Up once it validates policies; it registers that webhook before its certificate is there,
    # so the policy is applied until Kyverno's webhook takes it. The policy then makes it
    # register its webhook for pods.
    policy_webhook = ("validatingwebhookconfiguration", "kyverno-policy-validating-webhook-cfg")
    up = partial(alive, lambda: kubectl("get", *policy_webhook, check=False).returncode == 0)
    wait_for(up, 300, "Kyverno's policy webhook")
    apply = ("apply", "-f", str(KYVERNO_POLICY))
    wait_for(
        partial(alive, lambda: kubectl(*apply, check=False).returncode == 0), 120, "the policy"
    )
    for_pods = partial(_webhook_for_pods, kubectl, "kyverno-resource-mutating-webhook-cfg")
    wait_for(partial(alive, for_pods), 120, "Kyverno's webhook for pods")
    return time.monotonic() - started


def _moved(objects: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    return [{**o, "metadata": {**o["metadata"], "namespace": namespace}} for o in objects]


def _cost_setup(
    cluster: ControlPlane,
    workdir: Path,
    stack: contextlib.ExitStack,
    kyverno: Path | None,
    extra: list[dict[str, Any]],
) -> tuple[Api, Pullpass]:
    """pullpass, the Go reference, policy mode (with and without its warnings) and Kyverno
    registered for one namespace each (the same credentials and pod), and a namespace none is
    called for; the webhooks pinned to core 0. `extra`: Secrets beyond the fixtures' 5."""
    api = Api(cluster)
    fx = bench.fixtures(10, 5)
    objects = json.loads((fx / "objects.json").read_text())["items"]
    team, secrets = objects[0], objects[1:6]  # team-00000 (labelled enabled) and its 5 Secrets
    assert team["metadata"]["name"] == ON
    assert all(o["kind"] == "Secret" for o in secrets)
    secrets = secrets + _moved(extra, ON)
    moved = _moved(secrets, REF)
    reference_objects = workdir / "reference-objects.json"
    reference_objects.write_text(json.dumps(_listed(moved)))
    policy_labels = {**team["metadata"].get("labels", {}), POLICY_LABEL: "enabled"}
    lean_labels = {**policy_labels, POLICY_LABEL: "lean"}
    # A registry only the unserved namespace has a credential for: the policy namespaces hold a
    # copy too, so every key of the cluster is in their scope and no warning can arise there
    # (the warnings policy is skipped), except in WARN, which lacks it and is evaluated. PROJ
    # lacks it too, and has the same credentials as its project's sources, not its own: the
    # shared policy serves it, and the warnings policy's condition cannot tell its scope.
    elsewhere = _secret("bench-elsewhere", ["elsewhere.registry.example"])
    sources = [
        {**o, "metadata": {**o["metadata"], "labels": {"pullpass.io/project": PROJECT}}}
        for o in _moved(secrets, CREDENTIALS_NAMESPACE)
    ]
    for obj in [
        _namespace(CREDENTIALS_NAMESPACE),
        _namespace(OFF),
        _namespace(REF, {REF_LABEL: "enabled"}),
        _namespace(POL, policy_labels),
        _namespace(WARN, policy_labels),
        _namespace(PROJ, {**policy_labels, "pullpass.io/project": PROJECT}),
        _namespace(LEAN, lean_labels),
        _namespace(KYV, {KYVERNO_LABEL: "enabled"}),
        _namespace(KYVERNO_NAMESPACE),
        _namespace(FLOOR, {FLOOR_LABEL: "enabled"}),
        team,
        *secrets,
        *moved,
        *_moved(secrets, POL),
        *_moved(secrets, WARN),
        *sources,
        *_moved(secrets, LEAN),
        *_moved([elsewhere], OFF),
        *_moved([elsewhere], POL),
        *_moved([elsewhere], LEAN),
        *_moved(secrets, KYV),
    ]:
        api.create(obj)
    for namespace in CONDITIONS:
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/default"
        wait_for(partial(api.exists, path), 60, f"{namespace}'s ServiceAccount")
    server, _ = start_pullpass(cluster, workdir, "pp-cost", replicate=False, pin=bench.SERVER_CORE)
    stack.callback(server.stop)
    # Policy mode's leader writes the parameters; it is on no pod's path.
    leader, _ = start_pullpass(cluster, workdir, "pp-policy", replicate=False, admission="policy")
    stack.callback(leader.stop)
    reference = stack.enter_context(bench.reference(fx, reference_objects))
    kubectl = Kubectl(cluster.kubeconfig)
    _policy_mode(kubectl)
    _floor_policy(kubectl)
    ours = webhook_configuration("pullpass", server.url, server.ca_pem)
    ours["webhooks"][0]["namespaceSelector"]["matchExpressions"] = [
        {"key": POLICY_LABEL, "operator": "DoesNotExist"}
    ]
    kubectl.apply(ours)
    config = webhook_configuration("reference", reference.url, (fx / "ca.crt").read_bytes())
    [hook] = config["webhooks"]
    hook["name"] = "pods.reference.bench"
    hook["namespaceSelector"] = {"matchLabels": {REF_LABEL: "enabled"}}
    kubectl.apply(config)
    if kyverno is not None:
        took = _start_kyverno(cluster, kyverno, workdir, stack)
        say(f"<!-- Kyverno {kyverno.name}: exec to its webhook for pods registered {took:.1f}s -->")
    return api, server


def _create(api: Api, images: list[str], namespace: str) -> tuple[float, bool]:
    """One pod create over the kept-alive connection: (milliseconds, got imagePullSecrets)."""
    body = pod(namespace, images)
    started = time.perf_counter()
    status, data = api.request("POST", f"/api/v1/namespaces/{namespace}/pods", body)
    took = (time.perf_counter() - started) * 1e3
    if status != 201:
        raise SystemExit(f"realcluster: pod create in {namespace}: {status} {data[:300]!r}")
    return took, bool(json.loads(data)["spec"].get("imagePullSecrets"))


def _patches(api: Api, images: list[str], namespace: str) -> bool:
    return _create(api, images, namespace)[1]


Series = tuple[dict[str, list[float]], dict[str, int]]


def _interleave(
    measure: Callable[[str], tuple[float, bool]],
    samples: int,
    deadline: float,
    order: list[str],
) -> Series:
    """Rounds of one create per namespace of `order`, rotated each round so drift hits all alike.

    Returns the times and the count of pods that got imagePullSecrets, per namespace.
    """
    times: dict[str, list[float]] = {namespace: [] for namespace in order}
    patched = dict.fromkeys(order, 0)
    n = 0
    while n < samples and time.monotonic() < deadline:
        turn = n % len(order)
        for namespace in order[turn:] + order[:turn]:
            took, injected = measure(namespace)
            times[namespace].append(took)
            patched[namespace] += injected
        n += 1
    if patched[OFF]:
        raise SystemExit("realcluster: a webhook patched the control namespace")
    return times, patched


def _kubectl_create(kubectl: Kubectl, images: list[str]) -> Callable[[str], tuple[float, bool]]:
    """`kubectl create -f -` as a user runs it (its process start-up included)."""

    def measure(namespace: str) -> tuple[float, bool]:
        body = pod(namespace, images).decode()
        started = time.perf_counter()
        done = kubectl("create", "-f", "-", "-o", "json", input=body)
        took = (time.perf_counter() - started) * 1e3
        return took, bool(json.loads(done.stdout)["spec"].get("imagePullSecrets"))

    return measure


def cmd_cost(args: argparse.Namespace) -> dict[str, object]:
    """Pod creates into namespaces that pullpass, the Go reference, policy mode, Kyverno or no
    admission is called for.

    The same apiserver, the same pod, rotated per round: what a webhook adds is its namespace's
    time minus the plain one's, and the reference shows how much of that any webhook costs.
    """
    workdir = Path(tempfile.mkdtemp(prefix="pullpass-cost-"))
    say(f"# cost on the real path: {bench.machine()}; load average {bench.loadavg()}")
    extra = _extra_credentials(args.credentials - 5, args.keys)
    images = _images(args.containers, args.credentials - 5, args.keys)
    say(
        f"<!-- {args.credentials} credentials in scope ({len(extra)} generated, {args.keys} keys "
        f"each), pods of {len(images)} containers -->"
    )
    kyverno = kyverno_build()
    order = [namespace for namespace in CONDITIONS if kyverno or namespace != KYV]
    cluster = ControlPlane(build_control_plane(), workdir / "cluster")
    series: dict[str, Series] = {}
    try:
        with contextlib.ExitStack() as stack:
            cluster.start()
            api, server = _cost_setup(cluster, workdir, stack, kyverno, extra)
            http_create = partial(_create, api, images)
            # The apiserver picks up webhook configurations asynchronously.
            for namespace in order:
                if namespace != OFF:
                    wait_for(
                        partial(_patches, api, images, namespace), 60, f"a mutation in {namespace}"
                    )
            _interleave(http_create, args.warmup, time.monotonic() + 60, order)
            own = f"{server.metrics}/metrics"
            before = webhook_histogram(cluster)
            own_before = bench.histogram(own, "pullpass_admission_duration_seconds")
            loads = [bench.loadavg()]
            deadline = time.monotonic() + args.max_seconds
            series["HTTP POST, keep-alive, admin cert"] = _interleave(
                http_create, args.samples, deadline, order
            )
            after = webhook_histogram(cluster)
            own_after = bench.histogram(own, "pullpass_admission_duration_seconds")
            loads.append(bench.loadavg())
            if args.kubectl:
                kubectl = _kubectl_create(Kubectl(cluster.kubeconfig), images)
                series["kubectl create"] = _interleave(kubectl, args.kubectl, deadline + 300, order)
                loads.append(bench.loadavg())
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result = _cost_report(series, loads, before, after)
    # No image of the bench's pods is served only out of scope: a warning would be a false one.
    result["warned"] = api.warned
    say(f"<!-- pod creates answered with a pullpass warning: {api.warned or 'none'} -->")
    p50, p99 = (bench.quantile(own_before, own_after, q) * 1e3 for q in (0.5, 0.99))
    result["pullpass_own_le_ms"] = {"p50": p50, "p99": p99}
    say(f"<!-- pullpass's own handling (its histogram): p50 <= {p50:g} ms, p99 <= {p99:g} ms -->")
    return result


def _added(times: dict[str, list[float]], namespace: str, base: str) -> dict[str, float]:
    return {
        "median": statistics.median(times[namespace]) - statistics.median(times[base]),
        "p99": pct(times[namespace], 0.99) - pct(times[base], 0.99),
    }


def _cost_report(
    series: dict[str, Series],
    loads: list[str],
    before: dict[float, float],
    after: dict[float, float],
) -> dict[str, object]:
    result: dict[str, object] = {"load": loads}
    say(f"\n<!-- load average at the start / end of each series: {' / '.join(loads)} -->")
    say("| client | condition | samples | median ms | p90 ms | p99 ms | max ms |")
    say("|---|---|---|---|---|---|---|")
    for label, (times, patched) in series.items():
        for namespace, condition in CONDITIONS.items():
            values = times.get(namespace)
            if not values:
                say(f"| {label} | {condition} | not built (scripts/kyverno) | | | | |")
                continue
            say(
                f"| {label} | {condition} | {len(values)} | {statistics.median(values):.2f} "
                f"| {pct(values, 0.9):.2f} | {pct(values, 0.99):.2f} | {max(values):.2f} |"
            )
        added = {
            "pullpass": _added(times, ON, OFF),
            "reference": _added(times, REF, OFF),
            "policy_mode": _added(times, POL, OFF),
            "policy_mode_warning_possible": _added(times, WARN, OFF),
            "policy_mode_project": _added(times, PROJ, OFF),
            "policy_mode_without_warnings": _added(times, LEAN, OFF),
            "floor_policy": _added(times, FLOOR, OFF),
            "pullpass_over_reference": _added(times, ON, REF),
        }
        if KYV in times:
            added["kyverno"] = _added(times, KYV, OFF)
        result[label] = {"times": times, "patched": patched, "added": added}
        got = ", ".join(
            f"{CONDITIONS[namespace]} {patched[namespace]}/{len(times[namespace])}"
            for namespace in times
            if namespace != OFF
        )
        say(f"<!-- {label}: pods that got imagePullSecrets: {got} -->")
        for who, figures in added.items():
            say(
                f"<!-- {label}: added by {who.replace('_', ' ')}: median "
                f"{figures['median']:.2f} ms, p99 {figures['p99']:.2f} ms -->"
            )
    if after:
        p50, p99 = (bench.quantile(before, after, q) * 1e3 for q in (0.5, 0.99))
        result["apiserver_webhook_le_ms"] = {"p50": p50, "p99": p99}
        say(
            f"<!-- apiserver's own timing of the pullpass call: p50 <= {p50:g} ms, "
            f"p99 <= {p99:g} ms -->"
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("scale", help="start to ready and RSS with 50 vs 50,000 Secrets")
    p.add_argument("--namespaces", type=int, default=10_000)
    p.add_argument("--small", type=int, default=10, help="namespaces in the small index")
    p.add_argument("--threads", type=int, default=16, help="parallel creates while loading")
    p.add_argument("--load-timeout", type=float, default=900)
    p.add_argument("--duration", type=int, default=8, help="wrk seconds per round; 0 skips")
    p.add_argument("--starts", type=int, default=3, help="pullpass starts per index and mode")
    p.add_argument(
        "--kcm-qps", type=int, default=200, help="controller-manager API rate; 0: its default"
    )
    p.add_argument(
        "--max-requests-inflight", type=int, default=0, help="apiserver flag; 0 keeps its default"
    )
    p = sub.add_parser("restart-writes", help="Secret writes of a restart over copies in sync")
    p.add_argument("--namespaces", type=int, default=10_000)
    p.add_argument("--sources", type=int, default=1, help="project sources, each copied everywhere")
    p.add_argument("--threads", type=int, default=16, help="parallel creates while loading")
    p.add_argument("--timeout", type=float, default=1200, help="limit of each replication wait")
    p.add_argument("--settle", type=float, default=5, help="seconds counted after the pass")
    p.add_argument("--kcm-qps", type=int, default=200, help="controller-manager API rate")
    p = sub.add_parser("cost", help="pod create latency with the webhook called and not")
    p.add_argument("--samples", type=int, default=500, help="per condition")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--max-seconds", type=float, default=300)
    p.add_argument("--kubectl", type=int, default=0, help="also this many kubectl creates each")
    p.add_argument(
        "--credentials", type=int, default=5, help="credentials in scope (>= 5: the fixtures' 5)"
    )
    p.add_argument("--keys", type=int, default=2, help="registry keys of each generated credential")
    p.add_argument("--containers", type=int, default=3, help="containers of each pod (>= 3)")
    args = parser.parse_args()
    bench.need("taskset")
    result = globals()[f"cmd_{args.command.replace('-', '_')}"](args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
