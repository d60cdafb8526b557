"""A rotated certificate is served to new connections with no restart."""

import contextlib
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from localcluster.processes import free_port
from tests.kit.eventually import eventually
from tests.kit.objects import pod, review
from tests.kit.serving import PULLPASS

BODY = review(pod("team-a", "quay.io/x/y"))


def _trust(certs: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certs / "ca.crt"))


@pytest.fixture(scope="module")
def other_certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second pair from another CA, to rotate to; read only, like the session's `certs`."""
    out = tmp_path_factory.mktemp("other-certs")
    subprocess.run([*PULLPASS, "certs", "--out", str(out), "--host", "127.0.0.1"], check=True)
    return out


@contextlib.contextmanager
def _serving(live: Path, objects_file: Path, first: Path) -> Iterator[tuple[str, str]]:
    """`pullpass serve` on the files in `live`; yields the /mutate and /metrics URLs."""
    port, metrics_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            *PULLPASS,
            "serve",
            "--shutdown-delay=0",
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
            "--cert-file",
            str(live / "tls.crt"),
            "--key-file",
            str(live / "tls.key"),
            "--objects",
            str(objects_file),
        ],
        stderr=subprocess.DEVNULL,
    )
    url = f"https://127.0.0.1:{port}/mutate"
    try:
        eventually(
            lambda: httpx.post(url, json=BODY, verify=_trust(first)).status_code == 200,
            20,
            "serve",
            ignoring=(httpx.HTTPError,),
        )
        yield url, f"http://127.0.0.1:{metrics_port}/metrics"
        assert process.poll() is None, "pullpass serve restarted or died"
    finally:
        process.terminate()
        process.wait(10)


def test_rotated_certificate_is_picked_up(
    tmp_path: Path, objects_file: Path, certs: Path, other_certs: Path
) -> None:
    first, second, live = certs, other_certs, tmp_path / "live"
    shutil.copytree(first, live)  # the served files are a copy: the shared pairs never change
    with _serving(live, objects_file, first) as (url, _):
        for name in ("tls.key", "tls.crt"):
            shutil.copy(second / name, live / f".{name}")
            (live / f".{name}").replace(live / name)
        eventually(
            lambda: httpx.post(url, json=BODY, verify=_trust(second)).status_code == 200,
            10,
            "the new certificate",
            ignoring=(httpx.HTTPError,),
        )
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.post(url, json=BODY, verify=_trust(first))


def test_broken_new_certificate_keeps_the_old_one(
    tmp_path: Path, objects_file: Path, certs: Path
) -> None:
    first, live = certs, tmp_path / "live"
    shutil.copytree(first, live)
    with _serving(live, objects_file, first) as (url, metrics):
        (live / "tls.crt").write_text("not a certificate")
        eventually(
            lambda: 'certificate_reloads_total{result="error"} 1.0' in httpx.get(metrics).text,
            10,
            "the refused reload",
            ignoring=(httpx.HTTPError,),
        )
        assert httpx.post(url, json=BODY, verify=_trust(first)).status_code == 200
