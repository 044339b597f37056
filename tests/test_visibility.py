"""Seeing the loop from a terminal and from log shippers: `labelloop status`, one JSON log
line per job start and end, and the progress bar of `labelloop train`."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

from support.data import TEXT_CONFIG, annotation_event
from support.waiting import wait_until


def test_json_logs_carry_each_job_start_and_end(echo_backend: Path, start_server: Any,
                                                 tmp_path: Path) -> None:
    server = start_server(echo_backend, args=["--log-format", "json"])
    for i in range(1, 13):
        server.client.post("/webhook", json=annotation_event(i, i, f"t{i}", "积极"))
    log = tmp_path / "models" / "1" / ".jobs" / "runner.log"

    def ended() -> list[dict[str, Any]]:
        entries = [json.loads(line) for line in log.read_text().splitlines() if line]
        return [e["job"] for e in entries if e.get("job", {}).get("event") == "ended"]

    done = wait_until(ended, timeout=60)[0]
    assert done["kind"] == "train" and done["outcome"] == "promoted"
    assert done["project"] == "1" and done["version"].isdigit() and done["seconds"] > 0
    assert done["metrics"]["n_train"] >= 1
    started = [json.loads(line)["job"] for line in log.read_text().splitlines()
               if '"event": "started"' in line]
    assert started[0]["job_id"] and started[0]["source"] == "webhooks"
    server_lines = server.log.read_text().splitlines()
    assert all(json.loads(line)["level"] for line in server_lines if line.startswith("{"))


def test_status_table_and_train_progress_bar(echo_backend: Path, tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"id": i, "data": {"text": f"t{i}"}, "annotations": [
        {"id": i, "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                              "value": {"choices": ["积极" if i % 3 else "消极"]}}]}]}
        for i in range(1, 31)], ensure_ascii=False))
    config = tmp_path / "c.xml"
    config.write_text(TEXT_CONFIG)
    control = tmp_path / "control"
    control.mkdir()
    (control / "fit_progress").write_text("8")
    # In a terminal, `labelloop train` draws the progress that fit reports.
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "labelloop.cli.main", "train",
                             str(echo_backend), "--tasks", str(export), "--label-config",
                             str(config), "--project", "7", "--model-dir",
                             str(tmp_path / "models")],
                            stdout=child, stderr=child, env={**os.environ,
                                                             "ECHO_CONTROL": str(control),
                                                             "COLUMNS": "120"})
    os.close(child)
    screen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    assert proc.wait(60) == 0
    text = screen.decode(errors="replace")
    assert "fit: step" in text and "%" in text, text[-2000:]
    assert "trained version" in text

    status = subprocess.run([sys.executable, "-m", "labelloop.cli.main", "status",
                             str(echo_backend), "--model-dir", str(tmp_path / "models")],
                            capture_output=True, text=True, env={**os.environ, "COLUMNS": "160"})
    assert status.returncode == 0, status.stderr
    assert "project 7" in status.stdout and "serving EchoModel-" in status.stdout
    assert "accuracy" in status.stdout and "ok" in status.stdout
