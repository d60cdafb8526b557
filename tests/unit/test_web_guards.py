"""The webhook port's guards that need no socket: AEAD-only TLS 1.2, the log rate limit, and a
late patch counted as `late`. The socket-level guards are in tests/limits."""

import datetime
import json
import logging
import math
import ssl
from pathlib import Path

from app.core import pki
from app.core.credentials.scope import ScopeSettings
from app.shell.cluster.index import Index
from app.shell.cluster.objects import load_snapshot
from app.shell.telemetry import metrics
from app.shell.telemetry.logs import RateLimit
from app.shell.web.server import review_bytes
from app.shell.web.tls import ReloadingContext
from tests.kit.objects import namespace, pod, review, secret


def test_tls12_offers_only_aead_suites_with_forward_secrecy(tmp_path: Path) -> None:
    now = datetime.datetime.now(datetime.UTC)
    pair = pki.issue(pki.new_ca(1, now=now), ["127.0.0.1"], 1, now=now)
    (tmp_path / "tls.crt").write_bytes(pair.cert)
    (tmp_path / "tls.key").write_bytes(pair.key)
    context = ReloadingContext(str(tmp_path / "tls.crt"), str(tmp_path / "tls.key")).context
    suites = context.get_ciphers()
    tls12 = [s for s in suites if s["protocol"] == "TLSv1.2"]
    assert tls12, "no TLS 1.2 suite left: the API server's older clients could not connect"
    assert all(s["aead"] for s in tls12), [s["name"] for s in tls12 if not s["aead"]]
    assert all(s["kea"] == "kx-ecdhe" for s in tls12), [s["name"] for s in tls12]
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def suppressed(logger: str) -> float:
    return metrics.LOG_LINES_SUPPRESSED.labels(logger)._value.get()  # type: ignore[no-any-return]


def test_rate_limit_lets_a_burst_through_then_rate_lines_a_second() -> None:
    now = [100.0]
    limit = RateLimit(rate=2.0, burst=5.0, clock=lambda: now[0])
    record = logging.makeLogRecord({"name": "unit.flood", "msg": "bad review"})
    before = suppressed("unit.flood")
    assert [limit.filter(record) for _ in range(8)] == [True] * 5 + [False] * 3
    assert suppressed("unit.flood") == before + 3
    now[0] += 1.0  # two tokens back
    assert [limit.filter(record) for _ in range(3)] == [True, True, False]
    now[0] += 3600  # never more than the burst
    assert sum(limit.filter(record) for _ in range(10)) == 5


def test_a_flood_of_bad_reviews_writes_a_bounded_number_of_lines(caplog: object) -> None:
    from app.shell.telemetry import logs

    logs.setup("info")
    admission = logging.getLogger("pullpass.admission")
    lines: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = lines.append  # type: ignore[method-assign]
    admission.addHandler(handler)
    try:
        before = suppressed("pullpass.admission")
        for _ in range(1000):
            assert review_bytes(b"{", Index(ScopeSettings("creds", "p"), fixed=True))[0] == 400
    finally:
        admission.removeHandler(handler)
        logging.getLogger().handlers.clear()
    assert 0 < len(lines) <= 60, len(lines)
    assert suppressed("pullpass.admission") >= before + 1000 - 60


def outcome(name: str) -> float:
    return metrics.ADMISSIONS.labels(name)._value.get()  # type: ignore[no-any-return]


def test_a_patch_decided_after_the_deadline_counts_as_late(tmp_path: Path) -> None:
    objects = [
        namespace("team-a", {"pullpass.io/inject": "enabled"}),
        secret("team-a", "quay", {"quay.io": ("u", "p")}),
    ]
    path = tmp_path / "objects.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    index = Index(ScopeSettings("creds", "pullpass.io/project"), fixed=True)
    load_snapshot([str(path)]).fill(index)
    body = json.dumps(review(pod("team-a", "quay.io/a/b"))).encode()
    patched, late = outcome("patched"), outcome("late")
    status, on_time = review_bytes(body, index, math.inf)
    assert (status, outcome("patched"), outcome("late")) == (200, patched + 1, late)
    status, after = review_bytes(body, index, 0.0)  # time.monotonic() is far past 0
    assert (status, outcome("patched"), outcome("late")) == (200, patched + 1, late + 1)
    assert json.loads(after) == json.loads(on_time), "the answer itself is the same patch"
