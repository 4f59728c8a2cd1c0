"""Shared fixtures: every engine runs the whole suite; hypothesis profiles."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from kefu import Assigner, ManualClock
from kefu._compat import NO_EXTENSIONS, REQUIRE_EXTENSIONS
from kefu.assigner import ENGINES
from kefu.kpi import kernel as kpi_kernels

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "soak", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", help="run the long soak tests too")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--soak"):
        return
    skip = pytest.mark.skip(reason="soak test: run with --soak")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


def _held_logging_locks() -> list[str]:
    """The logging handlers whose lock another thread cannot take within a second.

    A handler's lock left held (an interrupt a test injects landing right after
    ``Handler.handle`` takes it) blocks for good the next thread that logs
    through it: a worker thread finalizing some garbage, say, and then the test
    waiting on that thread hangs. Probed from a fresh thread, since the lock is
    re-entrant for the thread that holds it.
    """
    held: list[str] = []
    for ref in list(logging._handlerList):  # type: ignore[attr-defined]
        handler = ref()
        lock = getattr(handler, "lock", None)
        if lock is None:
            continue
        taken: list[bool] = []

        def probe(lock: Any = lock, taken: list[bool] = taken) -> None:
            got = lock.acquire(timeout=1.0)
            taken.append(got)
            if got:
                lock.release()

        prober = threading.Thread(target=probe)
        prober.start()
        prober.join()
        if not taken[0]:
            held.append(repr(handler))
    return held


@pytest.fixture(autouse=True)
def _no_logging_lock_left_held() -> Iterator[None]:
    """Fail the test that leaves a logging handler's lock held (see above)."""
    yield
    held = _held_logging_locks()
    if held:
        pytest.fail(f"this test left logging handler locks held: {held}")


def _require(name: str, available: Iterable[str], what: str, compiled: str) -> str:
    """Skip when ``name`` is not among ``available``, or fail if it is the compiled one
    (``compiled``) and KEFU_REQUIRE_EXTENSIONS is set."""
    if name not in available:
        if name == compiled and REQUIRE_EXTENSIONS:
            pytest.fail(f"KEFU_REQUIRE_EXTENSIONS is set but the compiled {what} is missing")
        reason = "KEFU_NO_EXTENSIONS is set" if NO_EXTENSIONS else f"{what} not built"
        pytest.skip(f"{what} {name!r} unavailable: {reason}")
    return name


def require_engine(name: str) -> str:
    """Skip (or, under KEFU_REQUIRE_EXTENSIONS, fail) when an engine is not built."""
    return _require(name, ENGINES, "engine", "c")


@pytest.fixture(
    scope="session",
    params=["py", pytest.param("c", marks=pytest.mark.c_extension), "naive"],
)
def engine(request: pytest.FixtureRequest) -> str:
    """Every example test runs on each engine, the naive reference model included."""
    return require_engine(request.param)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(0.0)


@pytest.fixture
def make(engine: str, clock: ManualClock) -> Callable[..., Assigner]:
    """``make(**config)``: an Assigner on the test's engine and manual clock."""

    def factory(**config: Any) -> Assigner:
        return Assigner(clock, engine=engine, **config)  # type: ignore[arg-type]

    return factory


# KPI kernels -----------------------------------------------------------------------------
# Every test under tests/kpi runs on each KPI kernel: compiled ("c") and pure
# Python ("py"). (One conftest for the whole suite: test modules import helpers
# from it by name, so a second conftest.py would shadow it.)

KPI_TESTS = Path(__file__).parent / "kpi"


def require_kpi_kernel(name: str) -> str:
    """Skip (or, under KEFU_REQUIRE_EXTENSIONS, fail) when a KPI kernel is not built."""
    return _require(name, kpi_kernels.AVAILABLE, "KPI kernel", "c")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    path = metafunc.definition.path
    # test_kpi_kernel.py compares the two kernels itself: once is enough.
    if ("kpi_kernel" in metafunc.fixturenames and KPI_TESTS in path.parents
            and path.name != "test_kpi_kernel.py"):
        metafunc.parametrize(
            "kpi_kernel", [pytest.param("c", marks=pytest.mark.c_extension), "py"],
            indirect=True, scope="session",
        )


@pytest.fixture(scope="session", autouse=True)
def kpi_kernel(request: pytest.FixtureRequest) -> Iterator[str]:
    """Under tests/kpi: make ``request.param`` the active KPI kernel; elsewhere, no-op."""
    name: str | None = getattr(request, "param", None)
    if name is None:
        yield kpi_kernels.ACTIVE
        return
    require_kpi_kernel(name)
    saved = kpi_kernels.ACTIVE
    kpi_kernels.ACTIVE = name
    yield name
    kpi_kernels.ACTIVE = saved
