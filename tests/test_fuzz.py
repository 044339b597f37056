"""Property-based fuzzing of the HTTP API from its own OpenAPI spec (schemathesis):
no 5xx, responses as documented, schema-violating requests refused."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from support.servers import Server


def test_schemathesis_finds_nothing(echo_backend: Path, tmp_path: Path,
                                    start_server: Callable[..., Server]) -> None:
    server = start_server(echo_backend)
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    result = subprocess.run(
        [st, "--config-file", str(Path(__file__).parent / "schemathesis.toml"), "run",
         f"{server.url}/openapi.json", "--checks", "all", "--max-examples", "100",
         "--seed", "20261125", "--no-color"],
        capture_output=True, text=True, timeout=600,
        cwd=tmp_path)  # its crash cache (.schemathesis/) would replay old runs: keep it fresh
    summary = result.stdout[result.stdout.rfind("SUMMARY"):]
    print(summary)
    assert result.returncode == 0, result.stdout[-4000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert counts and int(counts[1]) == int(counts[2]) >= 500, summary
    assert "Traceback" not in server.log.read_text()
