"""/readyz over real watch loops fed by a stand-in `call`: not ready while the first list is
still open, then ready through an API outage, with the lost watch reported and resumed at once.

The list and watch loops are driven by a fake `call` here only to hold a list open and to cut
the API off at exact moments; tests/e2e/webhook/test_e2e_08_apiserver_restart.py does it for real.
"""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from app.shell.cluster.reflector import Watcher, readiness_of
from app.shell.web.server import health_app
from tests.kit.eventually import eventually


class Page:
    def __init__(self, body: dict[str, Any]) -> None:
        self.data = orjson.dumps(body)


class FakeApi:
    """One list page of one item; a watch that stays open until the API goes down."""

    def __init__(self) -> None:
        self.release = threading.Event()  # the list answers once this is set
        self.down = threading.Event()
        self.entered = threading.Event()
        self.lists = 0
        self.calls: list[float] = []

    def __call__(self, **params: Any) -> Any:
        self.entered.set()
        self.calls.append(time.monotonic())
        if params.get("watch"):
            while not self.down.wait(0.01):
                pass
            raise ConnectionRefusedError("api down")
        if self.down.is_set():
            raise ConnectionRefusedError("api down")
        self.release.wait(10)
        self.lists += 1
        return Page({"metadata": {"resourceVersion": "1"}, "items": [{"metadata": {}}]})


class Health:
    """GETs on the health app in this process, over ASGI."""

    def __init__(self, watcher: Watcher) -> None:
        self.app = health_app(lambda: readiness_of([watcher]))

    def get(self, path: str) -> httpx.Response:
        async def fetch() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://pp") as client:
                return await client.get(path)

        return asyncio.run(fetch())


def wait(check: Callable[[], bool], timeout: float) -> float:
    """Seconds until `check` held: the time back in sync is what these tests measure."""
    started = time.monotonic()
    eventually(check, timeout, "the check", every=0.01)
    return time.monotonic() - started


@pytest.fixture
def watched(request: pytest.FixtureRequest) -> Iterator[tuple[FakeApi, Watcher, Health]]:
    api = FakeApi()
    watcher = Watcher(f"fake-{request.node.name[-20:]}", api, lambda kind, obj: list(obj))
    watcher.start()
    try:
        yield api, watcher, Health(watcher)
    finally:
        watcher.stopping.set()
        api.release.set()
        api.down.set()
        watcher.join(5)


CAPPED_RETRIES = 6


def in_sync(watcher: Watcher) -> float | None:
    return REGISTRY.get_sample_value("pullpass_watch_in_sync", {"resource": watcher.resource})


def test_not_ready_while_the_first_list_is_still_open(
    watched: tuple[FakeApi, Watcher, Health],
) -> None:
    api, watcher, http = watched
    assert api.entered.wait(5)
    time.sleep(0.2)  # the list is held open: nothing may say ready yet
    assert http.get("/readyz").status_code == 503
    verbose = http.get("/readyz?verbose")
    assert verbose.status_code == 503
    assert "[-]watch/" in verbose.text
    assert "waiting for the first full list" in verbose.text
    assert in_sync(watcher) == 0

    api.release.set()
    wait(lambda: http.get("/readyz").status_code == 200, 5)
    assert api.lists == 1
    assert in_sync(watcher) == 1


def test_ready_throughout_an_outage_and_back_in_sync_at_once(
    watched: tuple[FakeApi, Watcher, Health],
) -> None:
    api, watcher, http = watched
    api.release.set()
    wait(lambda: http.get("/readyz").status_code == 200, 5)

    api.down.set()
    wait(lambda: in_sync(watcher) == 0, 5)
    lost = len(api.calls) - 1

    def ready_until_capped() -> bool:
        """Ready at every look, until the backoff has reached its cap: the wait before the
        sixth retry is 0.5 to 1 s capped and 1.6 to 3.2 s if not (app/core/retry.py)."""
        assert http.get("/readyz").status_code == 200
        return len(api.calls) - 1 - lost >= CAPPED_RETRIES

    eventually(ready_until_capped, 10, f"{CAPPED_RETRIES} retries", every=0.05)
    verbose = http.get("/readyz?verbose")
    assert verbose.status_code == 200
    assert "watch lost (ConnectionRefusedError), serving the last good index" in verbose.text
    assert verbose.text.endswith("readyz check passed\n")
    lists_before = api.lists

    api.down.clear()
    back = wait(lambda: in_sync(watcher) == 1, 5)
    assert back < 1.5, f"back in sync only after {back:.2f}s"
    assert api.lists == lists_before + 1  # a fresh list, not a watch from a stale version
    gaps = [b - a for a, b in zip(api.calls[lost:], api.calls[lost + 1 :], strict=False)]
    assert max(gaps) < 1.2, f"a retry waited {max(gaps):.2f}s: the backoff is not capped"
    assert f"[+]watch/{watcher.resource} ok\n" in http.get("/readyz?verbose").text
    synced = REGISTRY.get_sample_value(
        "pullpass_watch_last_sync_timestamp_seconds", {"resource": watcher.resource}
    )
    assert synced is not None
    assert time.time() - synced < 2
