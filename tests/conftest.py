"""Fixtures: real backend folders and real servers on free loopback ports. What the tests
share besides fixtures lives in the ``support`` package."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.data import EXAMPLE, MODELS, ROOT
from support.servers import (
    EXAMPLES_VENV,
    LSML_VENV,
    Deployment,
    RedisServer,
    Server,
    make_backend,
)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how long the end-to-end suite took, Label Studio's start-up included."""
    total = sum(r.duration for key in ("passed", "failed", "error", "")
                for r in terminalreporter.stats.get(key, [])
                if hasattr(r, "duration") and "/e2e/" in getattr(r, "nodeid", ""))
    if total:
        terminalreporter.write_line(f"e2e suite wall time: {total:.1f} s")


# `make test` runs the suite on two xdist workers. A group runs on one worker, in order:
# the e2e tests share one Label Studio (a session fixture is per worker), and the two
# load-with-faults runs each want the machine to themselves. (xdist's own `loadgroup`
# renames node ids, which pytest 9 no longer lets it do: the scheduler groups instead.)
GROUPS = {"tests/e2e/": "e2e", "tests/test_load_faults.py": "load"}


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class Groups(LoadScopeScheduling):
        """Each test on its own, but a group's tests together, on one worker."""

        def _split_scope(self, nodeid: str) -> str:
            return next((g for part, g in GROUPS.items() if nodeid.startswith(part)), nodeid)

    return Groups(config, log)


@pytest.fixture
def text_backend(tmp_path: Path) -> Path:
    return make_backend(tmp_path / "text_backend", EXAMPLE)


@pytest.fixture
def echo_backend(tmp_path: Path) -> Path:
    return make_backend(tmp_path / "echo_backend", MODELS / "echo_model.py")


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(backend_dir: Path, model_dir: Path | None = None, **kw: Any) -> Server:
        server = Server(backend_dir, model_dir or tmp_path / "models", **kw)
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def control(tmp_path: Path) -> Path:
    """A folder of files that steer the echo test model (``ECHO_CONTROL``)."""
    folder = tmp_path / "control"
    folder.mkdir()
    return folder


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture(params=["local", "redis"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    redis = RedisServer(tmp_path / "redis") if request.param == "redis" else None
    dep = Deployment(request.param, tmp_path, redis)
    yield dep
    dep.stop()
    if redis:
        redis.stop()


# Scripts written for the old APIs import modules only labelloop's stand-ins provide:
# they are test data, loaded by labelloop, not modules pytest should import. data/examples:
# backends with tests of their own, which test_examples.py runs in copies of their folders.
collect_ignore = ["compat_scripts", "data"]


@pytest.fixture(scope="session")
def lsml_python() -> str:
    """Python of a virtualenv with the real label-studio-ml 1.0.9 and this labelloop
    (``make lsml-venv`` makes it; made here if missing, as the Makefile would)."""
    # make decides: nothing to do when the venv is newer than pyproject.toml.
    subprocess.run(["make", "-s", "lsml-venv", f"LSML_VENV={LSML_VENV}"], cwd=ROOT, check=True)
    return str(LSML_VENV / "bin" / "python")


@pytest.fixture(scope="session")
def examples_python() -> str:
    """Python of a virtualenv with what label-studio-ml-backend's examples import
    (label-studio-sdk, openai, pytesseract, responses, gunicorn...) and this labelloop
    (``make examples-venv`` makes it; made here if missing). The SDK pulls pandas and
    opencv: the test venv stays without it."""
    subprocess.run(["make", "-s", "examples-venv", f"EXAMPLES_VENV={EXAMPLES_VENV}"], cwd=ROOT,
                   check=True)
    return str(EXAMPLES_VENV / "bin" / "python")
