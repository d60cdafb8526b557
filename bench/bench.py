#!/usr/bin/env python3
"""pullpass benchmarks: side-by-side throughput against the Go yardstick, steady-rate latency,
a soak, and index scale (with `--objects`). Results go to stdout as markdown rows plus JSON.

Why a driver rather than a README of shell lines: every figure must come from the same session
as its yardstick (the machine is shared), with the same fixtures, pinning and time limits, so the
driver starts, pins, loads, scrapes and stops everything itself.

    bench/setup.sh                             # wrk, taskset, Go, venv (idempotent)
    .venv/bin/python bench/bench.py throughput # pullpass vs reference, 3 alternating rounds
    .venv/bin/python bench/bench.py steady     # 500 reviews/s open loop, server-side p99
    .venv/bin/python bench/bench.py soak --count 1000000 --rate 2000
    .venv/bin/python bench/bench.py scale      # 50 vs 50,000 Secrets: start, RSS, throughput
    .venv/bin/python bench/bench.py smoke      # a few seconds of each, for CI

Server on core 0 (`taskset -c 0`, the reference with GOMAXPROCS=1), load on core 1. Loopback only.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SERVER_CORE, LOAD_CORE = "0", "1"
REF_PORT, PP_PORT, PP_METRICS = 19443, 18443, 18080
# The pullpass source tree to run: this checkout, or another one (`--app-dir`) for before/after.
SETTINGS = {"app_dir": REPO}
# The yardstick, in this directory: the fixtures' generator, the Go reference webhook, wrk's script.
MAKE_FIXTURES = BENCH / "make_fixtures.py"
REFERENCE = BENCH / "reference-webhook"
ROTATE = BENCH / "rotate.lua"


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "pullpass" / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def need(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise SystemExit(f"bench: {tool} is not installed; run bench/setup.sh")
    return found


def go_build(source: Path, name: str) -> Path:
    """Build into the cache once per source change; `go build` needs no modules fetched."""
    out = cache_dir() / name
    newest = max(p.stat().st_mtime for p in source.iterdir())
    if not out.exists() or out.stat().st_mtime < newest:
        need("go")
        env = {**os.environ, "GOWORK": "off"}
        subprocess.run(["go", "build", "-o", str(out), "."], cwd=source, check=True, env=env)
    return out


def fixtures(namespaces: int = 1000, secrets: int = 5) -> Path:
    out = cache_dir() / f"fx-{namespaces}x{secrets}"
    if not (out / "tls.key").exists() or not (out / "objects.json").exists():
        cmd = [sys.executable, str(MAKE_FIXTURES), str(out), "--namespaces", str(namespaces)]
        subprocess.run([*cmd, "--secrets", str(secrets)], check=True)
    return out


def reviews(fx: Path) -> list[Path]:
    return sorted(fx.glob("review-*.json"), key=lambda p: int(p.stem.split("-")[1]))


# --- servers -------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    metrics: str | None = None

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the process so far (/proc/PID/stat fields 14 and 15)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


def wait_https(port: int, ca: Path, timeout: float = 60) -> None:
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"bench: nothing answered on 127.0.0.1:{port} within {timeout}s")


@contextlib.contextmanager
def running(
    cmd: list[str],
    name: str,
    url: str,
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    metrics: str | None = None,
) -> Iterator[Proc]:
    sink = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, stderr=sink, stdout=subprocess.DEVNULL
    )
    try:
        yield Proc(name, process, url, metrics)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            sink.close()  # type: ignore[union-attr]


def reference(fx: Path, objects: Path | None = None) -> contextlib.AbstractContextManager[Proc]:
    """The Go yardstick, serving `objects` (the fixtures' own by default) with fx's certificate."""
    binary = go_build(REFERENCE, "reference-webhook")
    cmd = [
        "taskset",
        "-c",
        SERVER_CORE,
        str(binary),
        "-objects",
        str(objects or fx / "objects.json"),
        "-cert",
        str(fx / "tls.crt"),
        "-key",
        str(fx / "tls.key"),
        "-addr",
        f"127.0.0.1:{REF_PORT}",
    ]
    return running(
        cmd, "reference (Go)", f"https://127.0.0.1:{REF_PORT}/mutate", env={"GOMAXPROCS": "1"}
    )


def pullpass(fx: Path, log: Path | None = None) -> contextlib.AbstractContextManager[Proc]:
    cmd = [
        "taskset",
        "-c",
        SERVER_CORE,
        sys.executable,
        "-m",
        "app",
        "serve",
        "--shutdown-delay=0",
        "--objects",
        str(fx / "objects.json"),
        "--cert-file",
        str(fx / "tls.crt"),
        "--key-file",
        str(fx / "tls.key"),
        "--port",
        str(PP_PORT),
        "--metrics-port",
        str(PP_METRICS),
        "--address",
        "127.0.0.1",
        "--log-level",
        "warning",
    ]
    return running(
        cmd,
        "pullpass",
        f"https://127.0.0.1:{PP_PORT}/mutate",
        env={"PYTHONPATH": str(SETTINGS["app_dir"])},
        log=log,
        metrics=f"http://127.0.0.1:{PP_METRICS}/metrics",
    )


def ready(proc: Proc, fx: Path, timeout: float = 300) -> float:
    """Seconds from process start until /mutate answers."""
    started = time.monotonic()
    port = int(proc.url.rsplit(":", 1)[1].split("/")[0])
    wait_https(port, fx / "ca.crt", timeout)
    if proc.process.poll() is not None:
        raise SystemExit(f"bench: {proc.name} exited with {proc.process.returncode}")
    return time.monotonic() - started


def post(proc: Proc, fx: Path, body: bytes) -> tuple[int, dict[str, object]]:
    context = ssl.create_default_context(cafile=str(fx / "ca.crt"))
    port = int(proc.url.rsplit(":", 1)[1].split("/")[0])
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    conn.request("POST", "/mutate", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data)


def added_names(answer: dict[str, object]) -> set[str]:
    import base64

    response = answer.get("response") or {}
    assert isinstance(response, dict)
    if "patch" not in response:
        return set()
    names: set[str] = set()
    for op in json.loads(base64.b64decode(response["patch"])):
        value = op["value"]
        if op["path"].startswith("/spec/imagePullSecrets"):
            items = value if isinstance(value, list) else [value]
            names.update(item["name"] for item in items)
    return names


def same_work(ref: Proc, pp: Proc, fx: Path) -> str:
    """Both servers must add the same Secrets to every review, or the ratio means nothing."""
    patched = 0
    for path in reviews(fx):
        body = path.read_bytes()
        (s1, a1), (s2, a2) = post(ref, fx, body), post(pp, fx, body)
        if s1 != 200 or s2 != 200 or added_names(a1) != added_names(a2):
            raise SystemExit(
                f"bench: {path.name}: reference {s1} {added_names(a1)} "
                f"vs pullpass {s2} {added_names(a2)}"
            )
        patched += bool(added_names(a2))
    return f"{patched}/{len(reviews(fx))} reviews patched, same Secrets added by both"


# --- load ----------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    socket_errors: int


def wrk(url: str, fx: Path, seconds: int, connections: int = 32) -> WrkResult:
    cmd = [
        "taskset",
        "-c",
        LOAD_CORE,
        need("wrk"),
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(ROTATE),
        url,
    ]
    env = {**os.environ, "REVIEWS": " ".join(str(p) for p in reviews(fx))}
    out = subprocess.run(
        cmd, env=env, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if not rps or not total:
        raise SystemExit(f"bench: cannot read wrk's output:\n{out}")
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        requests=int(total.group(1)),
        non2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(g) for g in sock.groups()) if sock else 0,
    )


def loadgen_command(
    url: str, fx: Path, rate: float, *, seconds: float = 0, count: int = 0, conns: int = 64
) -> list[str]:
    """The open-loop load generator on the load core: `count` reviews, or for `seconds`."""
    binary = go_build(BENCH / "loadgen", "loadgen")
    cmd = ["taskset", "-c", LOAD_CORE, str(binary), "-url", url, "-ca", str(fx / "ca.crt")]
    cmd += ["-rate", str(rate), "-conns", str(conns)]
    cmd += ["-count", str(count)] if count else ["-duration", f"{seconds}s"]
    return [*cmd, *map(str, reviews(fx))]


def loadgen(
    url: str, fx: Path, rate: float, *, seconds: float = 0, count: int = 0, conns: int = 64
) -> dict[str, float]:
    cmd = loadgen_command(url, fx, rate, seconds=seconds, count=count, conns=conns)
    limit = (count / rate if count else seconds) * 1.5 + 120
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=limit).stdout
    result: dict[str, float] = json.loads(out)
    return result


def scrape(url: str) -> str:
    """GET one of our own loopback http:// URLs (never user input)."""
    assert url.startswith("http://127.0.0.1:"), url
    return urllib.request.urlopen(url, timeout=10).read().decode()  # noqa: S310


def histogram(metrics_url: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts of one Prometheus histogram."""
    text = scrape(metrics_url)
    buckets: dict[float, float] = {}
    for m in re.finditer(rf'^{name}_bucket{{le="([^"]+)"}} ([\d.e+]+)$', text, re.M):
        buckets[float(m.group(1))] = float(m.group(2))
    return buckets


def quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Upper bound (seconds) of the bucket holding quantile q of the observations in between."""
    delta = {le: after[le] - before.get(le, 0.0) for le in sorted(after)}
    total = delta.get(float("inf"), 0.0)
    if total <= 0:
        return float("nan")
    for le, count in delta.items():
        if count >= q * total:
            return le
    return float("inf")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    return f"{model}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"


# --- benchmarks ----------------------------------------------------------------------------


def cmd_throughput(args: argparse.Namespace) -> dict[str, object]:
    fx = fixtures()
    rows: list[dict[str, object]] = []
    print(f"# throughput: {machine()}; load average before: {loadavg()}")
    print("| round | server | requests/s | p50 ms | p99 ms | non-2xx | socket errors |")
    print("|---|---|---|---|---|---|---|")
    with reference(fx) as ref, pullpass(fx) as pp:
        ready(ref, fx)
        ready(pp, fx)
        print(f"<!-- {same_work(ref, pp, fx)} -->")
        wrk(pp.url, fx, 2, args.connections)  # warm caches and the allocator, not measured
        wrk(ref.url, fx, 2, args.connections)
        for n in range(1, args.rounds + 1):
            # Alternate the order so drift in background load hits both alike.
            order = (ref, pp) if n % 2 else (pp, ref)
            for proc in order:
                r = wrk(proc.url, fx, args.duration, args.connections)
                rows.append({"round": n, "server": proc.name, **r.__dict__})
                print(
                    f"| {n} | {proc.name} | {r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
                    f"| {r.non2xx} | {r.socket_errors} |",
                    flush=True,
                )
        rss = pp.rss_mb()
    ratios = []
    for n in range(1, args.rounds + 1):
        ref_rps = next(r["rps"] for r in rows if r["round"] == n and r["server"] != "pullpass")
        pp_rps = next(r["rps"] for r in rows if r["round"] == n and r["server"] == "pullpass")
        ratios.append(float(pp_rps) / float(ref_rps))  # type: ignore[arg-type]
    ratios.sort()
    median = ratios[len(ratios) // 2]
    print(
        f"\nratio pullpass/reference per round: {', '.join(f'{r:.2f}' for r in ratios)}; "
        f"median {median:.2f} (target >= 0.75); pullpass RSS after: {rss:.0f} MB; "
        f"load average after: {loadavg()}"
    )
    return {"rows": rows, "ratios": ratios, "median_ratio": median, "rss_mb": rss}


def cmd_steady(args: argparse.Namespace) -> dict[str, object]:
    fx = fixtures()
    name = "pullpass_admission_duration_seconds"
    print(
        f"# steady: {args.rate}/s open loop for {args.duration}s; {machine()}; "
        f"load average: {loadavg()}"
    )
    with pullpass(fx) as pp:
        ready(pp, fx)
        assert pp.metrics
        loadgen(pp.url, fx, args.rate, seconds=3)  # warm-up, not measured
        before = histogram(pp.metrics, name)
        client = loadgen(pp.url, fx, args.rate, seconds=args.duration)
        after = histogram(pp.metrics, name)
    result = {
        "rate": args.rate,
        "seconds": args.duration,
        "server_p50_le_ms": quantile(before, after, 0.50) * 1e3,
        "server_p99_le_ms": quantile(before, after, 0.99) * 1e3,
        "server_p999_le_ms": quantile(before, after, 0.999) * 1e3,
        "client": client,
    }
    print(json.dumps(result, indent=1))
    print(
        f"server-side p99 <= {result['server_p99_le_ms']:.2f} ms (histogram bucket bound; "
        f"target < 2 ms); client-side p99 {client['p99_ms']:.2f} ms; "
        f"errors {client['errors']}, non-200 {client['sent'] - client['ok']}"
    )
    return result


def cmd_resources(args: argparse.Namespace) -> dict[str, object]:
    """CPU and memory of one replica idle, at 100 and at 500 reviews/s: what the chart's
    requests are sized from (docs/performance.md, "Resource requests")."""
    fx = fixtures()
    print(f"# resources: {args.duration}s per rate; {machine()}; load average: {loadavg()}")
    rows: dict[str, dict[str, float]] = {}
    with pullpass(fx) as pp:
        ready(pp, fx)
        loadgen(pp.url, fx, 100, seconds=3)  # warm-up, not measured
        print("| load | CPU (millicores) | RSS (MB) | errors |\n|---|---|---|---|")
        for rate in (0, 100, 500):
            cpu, start = pp.cpu_seconds(), time.monotonic()
            errors = 0
            if rate:
                errors = int(loadgen(pp.url, fx, rate, seconds=args.duration)["errors"])
            else:
                time.sleep(args.duration)
            used = (pp.cpu_seconds() - cpu) / (time.monotonic() - start)
            label = f"{rate}/s" if rate else "idle"
            rows[label] = {"millicores": used * 1000, "rss_mb": pp.rss_mb(), "errors": errors}
            print(f"| {label} | {used * 1000:.0f} | {pp.rss_mb():.0f} | {errors} |")
    return {"seconds": args.duration, "rows": rows}


def cmd_soak(args: argparse.Namespace) -> dict[str, object]:
    fx = fixtures()
    print(f"# soak: {args.count} reviews at {args.rate}/s; {machine()}; load: {loadavg()}")
    samples: list[tuple[float, float]] = []
    with pullpass(fx) as pp:
        ready(pp, fx)
        loadgen(pp.url, fx, args.rate, seconds=3)  # warm-up so the baseline RSS is steady
        start = time.monotonic()
        cmd = loadgen_command(pp.url, fx, args.rate, count=args.count)
        gen = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        deadline = start + args.count / args.rate * 1.5 + 120
        while gen.poll() is None and time.monotonic() < deadline:
            samples.append((time.monotonic() - start, pp.rss_mb()))
            time.sleep(args.sample)
        if gen.poll() is None:
            gen.kill()
            raise SystemExit("bench: soak load generator overran its time limit")
        client = json.loads(gen.communicate()[0])
        samples.append((time.monotonic() - start, pp.rss_mb()))
        assert pp.metrics
        text = scrape(pp.metrics)
    outcomes = dict(
        re.findall(r'^pullpass_admissions_total{outcome="(\w+)"} ([\d.e+]+)$', text, re.M)
    )
    tenth = max(1, len(samples) // 10)
    early = sum(s[1] for s in samples[:tenth]) / tenth
    late = sum(s[1] for s in samples[-tenth:]) / tenth
    result = {
        "count": args.count,
        "rate": args.rate,
        "client": client,
        "outcomes": outcomes,
        "rss_first_tenth_mb": early,
        "rss_last_tenth_mb": late,
        "rss_max_mb": max(s[1] for s in samples),
        "rss_samples": samples,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "rss_samples"}, indent=1))
    print(
        f"soak: {client['ok']}/{client['sent']} ok, errors {client['errors']}; RSS "
        f"{early:.1f} MB (first tenth) -> {late:.1f} MB (last tenth), max "
        f"{result['rss_max_mb']:.1f} MB"
    )
    return result


def cmd_scale(args: argparse.Namespace) -> dict[str, object]:
    """Index scale through --objects (no apiserver): start-to-ready, RSS, and throughput."""
    small, large = fixtures(10, 5), fixtures(args.namespaces, 5)
    out: dict[str, object] = {}
    print(f"# scale: {machine()}; load average: {loadavg()}")
    print("| objects | Secrets | start to ready s | RSS MB | requests/s | p99 ms |")
    print("|---|---|---|---|---|---|")
    results = {}
    for n in range(args.rounds):
        for label, fx in (("small", small), ("large", large))[:: 1 if n % 2 == 0 else -1]:
            with pullpass(fx) as pp:
                took = ready(pp, fx)
                wrk(pp.url, fx, 2)
                r = wrk(pp.url, fx, args.duration)
                rss = pp.rss_mb()
            secrets = 50 if label == "small" else args.namespaces * 5
            results.setdefault(label, []).append(r.rps)
            out[f"{label}-{n}"] = {"ready_s": took, "rss_mb": rss, **r.__dict__}
            print(
                f"| {label} | {secrets} | {took:.2f} | {rss:.0f} | {r.rps:.0f} | {r.p99_ms:.2f} |",
                flush=True,
            )
    ratio = (sum(results["large"]) / len(results["large"])) / (
        sum(results["small"]) / len(results["small"])
    )
    print(
        f"\nthroughput with {args.namespaces * 5} Secrets / with 50: {ratio:.2f} (target >= 0.95)"
    )
    out["ratio"] = ratio
    return out


def cmd_smoke(args: argparse.Namespace) -> dict[str, object]:
    """Every benchmark for a few seconds: proves the commands work, measures nothing."""
    ns = argparse.Namespace
    return {
        "throughput": cmd_throughput(ns(rounds=1, duration=2, connections=32)),
        "steady": cmd_steady(ns(rate=200, duration=3)),
        "soak": cmd_soak(ns(count=2000, rate=500, sample=0.5)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--app-dir",
        type=Path,
        default=REPO,
        help="pullpass source tree to run (default: this checkout)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    p = sub.add_parser("steady")
    p.add_argument("--rate", type=float, default=500)
    p.add_argument("--duration", type=float, default=30)
    p = sub.add_parser("soak")
    p.add_argument("--count", type=int, default=1_000_000)
    p.add_argument("--rate", type=float, default=2000)
    p.add_argument("--sample", type=float, default=5.0, help="seconds between RSS samples")
    p = sub.add_parser("resources")
    p.add_argument("--duration", type=float, default=30, help="seconds at each rate")
    p = sub.add_parser("scale")
    p.add_argument("--namespaces", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--duration", type=int, default=8)
    sub.add_parser("smoke")
    args = parser.parse_args()
    need("taskset")
    SETTINGS["app_dir"] = args.app_dir.resolve()
    os.chdir(SETTINGS["app_dir"])
    result = globals()[f"cmd_{args.command}"](args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
