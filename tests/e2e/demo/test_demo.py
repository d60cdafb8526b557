"""The README's main command works: `make demo` runs scripts/demo.py, checked here with --once.

As root it runs a real node: the pod pullpass served is Running after `Successfully pulled
image`, the control pod outside pullpass's scope is refused by the registry, a pod served in
secretless mode pulls naming no Secret, and nothing is left running. Without root it says what
the node needs and shows the control-plane result.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from localcluster.netns import NETNS_DIR
from localcluster.node import NETNS_NAME

REPO = Path(__file__).resolve().parents[3]

# As root the demo needs the node's builds: tests/conftest.py builds them first for `node` tests.
pytestmark = [pytest.mark.node, pytest.mark.timeout(960)]


def run_demo() -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--once"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def assert_injection_shown(stdout: str) -> None:
    assert "what you wrote):   imagePullSecrets: []" in stdout
    assert "stored:        imagePullSecrets: ['testquay']" in stdout
    assert "pullpass.io/injected:      'testquay'" in stdout


def test_demo_shows_the_real_thing() -> None:
    """As root: a real node. Without root: what the node needs, and the control-plane result."""
    done = run_demo()
    stdout = done.stdout
    first = stdout.splitlines()[0]
    assert_injection_shown(stdout)
    if os.geteuid() != 0:
        assert first.startswith("pullpass demo: the first run builds the control plane once"), first
        assert "A real node" in stdout
        assert "needs:" in stdout
        return
    assert first.startswith("pullpass demo: the first run builds everything once, about"), first
    served, rest = stdout.split("team-a/hello: pullpass served it", 1)[1].split("team-b/hello")
    control, secretless = rest.split("team-a/hello-secretless: ", 1)
    assert "imagePullSecrets: ['local-registry']   phase: Running" in served
    assert 'Successfully pulled image "127.0.0.1:5000/busybox:1"' in served
    assert "logs: hello from a private image" in served
    assert "imagePullSecrets: []   phase: Pending" in control
    assert "authorization failed: no basic auth credentials" in control
    # Secretless mode alone: the pod names nothing, the kubelet's plugin got the login.
    assert "imagePullSecrets: []   phase: Running" in secretless
    assert 'Successfully pulled image "127.0.0.1:5000/secretless/hello:1"' in secretless
    assert "left behind" not in stdout
    assert not (NETNS_DIR / NETNS_NAME).exists(), "the demo left its network namespace"
