"""Fixtures for the packaging tests: the pinned tools, or a failure that names what is missing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from tests.kit.chart import ToolMissing, helm_binary, promtool_binary, tools_bin

T = TypeVar("T")


def _or_fail(find: Callable[[], T]) -> T:
    """A tool that cannot be found or built fails the test with the reason, never skips it."""
    try:
        return find()
    except ToolMissing as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def helm_path() -> str:
    return _or_fail(helm_binary)


@pytest.fixture(scope="session")
def tools(helm_path: str) -> Path:
    # Depends on helm_path so the two installs never compete for the two cores at once.
    return _or_fail(tools_bin)


@pytest.fixture(scope="session")
def promtool_path(helm_path: str) -> str:
    # Building promtool from nothing takes several minutes on two cores.
    return _or_fail(promtool_binary)
