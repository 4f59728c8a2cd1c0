"""Every KPI test runs on each KPI kernel: compiled ("c") and pure Python ("py")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kefu._compat import NO_EXTENSIONS, REQUIRE_EXTENSIONS
from kefu.kpi import kernel


def require_kernel(name: str) -> str:
    """Skip (or, under KEFU_REQUIRE_EXTENSIONS, fail) when a kernel is not built."""
    if name not in kernel.AVAILABLE:
        if REQUIRE_EXTENSIONS:
            pytest.fail("KEFU_REQUIRE_EXTENSIONS is set but the compiled KPI kernel is missing")
        reason = "KEFU_NO_EXTENSIONS is set" if NO_EXTENSIONS else "kernel not built"
        pytest.skip(f"KPI kernel {name!r} unavailable: {reason}")
    return name


@pytest.fixture(
    scope="session", autouse=True,
    params=[pytest.param("c", marks=pytest.mark.c_extension), "py"],
)
def kpi_kernel(request: pytest.FixtureRequest) -> Iterator[str]:
    """Make ``request.param`` the active kernel for the tests that run under it."""
    name = require_kernel(request.param)
    saved = kernel.ACTIVE
    kernel.ACTIVE = name
    yield name
    kernel.ACTIVE = saved
