"""Fixtures for the packaging tests: the pinned tools, or a failure that names what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.render import ToolMissing, helm_binary, promtool_binary, tools_bin


@pytest.fixture(scope="session")
def helm_path() -> str:
    try:
        return helm_binary()
    except ToolMissing as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def tools(helm_path: str) -> Path:
    # Depends on helm_path so the two installs never compete for the two cores at once.
    try:
        return tools_bin()
    except ToolMissing as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def promtool_path(helm_path: str) -> str:
    try:
        return promtool_binary()
    except ToolMissing as error:
        pytest.fail(str(error), pytrace=False)
