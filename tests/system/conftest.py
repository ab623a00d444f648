"""Fixtures for the system tier: the built .debs in a booted Debian 12 (docs/architecture.md).

Every test here is marked `system`. A container that cannot be built or booted is an
error, never a skip: a skipped tier would hide a broken one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import container  # noqa: E402  (beside this file; tests/system is not a package)


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.system)


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the system tests need root (mmdebstrap, systemd-nspawn, nsenter)")


@pytest.fixture(scope="session")
def debs() -> list[Path]:
    """The built packages, dist/*.deb."""
    found = container.find_debs()
    if not found:
        pytest.fail(f"no .deb in {container.DIST}: run make deb first")
    return found


@pytest.fixture(scope="session")
def image() -> Path:
    """The cached image: base packages + what dist/*.deb depend on (if built) + extras."""
    _require_root()
    return container.ensure_image(container.system_image_packages())


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """The host-side wheelhouse: pws.pins + the test frameworks (container.site_requirements)."""
    _require_root()
    return container.ensure_wheelhouse(container.site_requirements(), container.foreign_wheels())


@pytest.fixture(scope="module")
def bare_ct(image, wheelhouse):
    """A booted container with nothing of pws installed (one per test module)."""
    with container.Container(image, wheelhouse) as booted:
        yield booted


@pytest.fixture(scope="module")
def ct(debs, image, wheelhouse):
    """A booted container with dist/*.deb installed (one per test module)."""
    with container.Container(image, wheelhouse) as booted:
        container.install_debs(booted, debs)
        yield booted
