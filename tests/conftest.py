"""Wiring for every suite: the control-plane suites get the `e2e` marker and a build first; the
node suite (a real kubelet) also gets `node`, and builds the node first."""

from pathlib import Path

import pytest

from tests.e2e.node.fixtures import MEASURED
from tests.e2e.node.fixtures import prebuild as prebuild_node
from tests.kit.control_plane import prebuild

HERE = Path(__file__).parent
CONTROL_PLANE_SUITES = [HERE / "e2e"]
NODE_SUITES = [HERE / "e2e" / "node"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in those suites needs the local control plane: `-m "not e2e"` deselects them;
    `-m "not node"` deselects those that need a real node (root, a kubelet, containerd)."""
    for item in items:
        parents = Path(str(item.path)).parents
        if any(suite in parents for suite in CONTROL_PLANE_SUITES):
            item.add_marker(pytest.mark.e2e)
        if any(suite in parents for suite in NODE_SUITES):
            item.add_marker(pytest.mark.node)


def pytest_collection_finish(session: pytest.Session) -> None:
    prebuild(session)
    prebuild_node(session)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The node suite's measurements: time to a Ready node, pullpass's install, teardown."""
    if MEASURED:
        terminalreporter.write_sep("-", "node suite measurements")
        for line in MEASURED:
            terminalreporter.write_line(line)
