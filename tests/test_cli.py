"""The CLI as users run it: real processes, clear messages, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from labelloop.cli.studio import free_port
from support.data import EXAMPLE, MODELS, TEXT_CONFIG
from support.waiting import wait_until


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labelloop.cli.main", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def test_init_copies_script_and_writes_wsgi(tmp_path: Path) -> None:
    result = run("init", str(tmp_path / "be"), "--script", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "SimpleTextClassifier" in result.stdout
    assert sorted(p.name for p in (tmp_path / "be").iterdir()) == [
        "README.md", "_wsgi.py", "labelloop.json", "simple_text_classifier.py"]
    assert json.loads((tmp_path / "be" / "labelloop.json").read_text()) == {
        "script": "simple_text_classifier.py", "model_class": "SimpleTextClassifier"}


def test_init_defaults_to_the_example_and_refuses_to_overwrite(tmp_path: Path) -> None:
    assert run("init", str(tmp_path / "be")).returncode == 0
    again = run("init", str(tmp_path / "be"))
    assert again.returncode != 0 and "--force" in again.stderr
    assert "Traceback" not in again.stderr
    assert run("init", str(tmp_path / "be"), "--force").returncode == 0


def test_init_explains_scripts_without_or_with_several_classes(tmp_path: Path) -> None:
    none = tmp_path / "none.py"
    none.write_text("x = 1\n")
    result = run("init", str(tmp_path / "a"), "--script", str(none))
    assert result.returncode != 0 and "defines no model class" in result.stderr
    two = tmp_path / "two.py"
    two.write_text("from labelloop.sdk import LabelStudioModel\n"
                   "class A(LabelStudioModel): pass\nclass B(LabelStudioModel): pass\n")
    result = run("init", str(tmp_path / "b"), "--script", str(two))
    assert result.returncode != 0 and "several model classes (A, B)" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "b").exists()


def test_offline_train_versions_predict_rollback(tmp_path: Path) -> None:
    be = tmp_path / "be"
    assert run("init", str(be), "--script", str(MODELS / "echo_model.py")).returncode == 0
    config = tmp_path / "config.xml"
    config.write_text(TEXT_CONFIG)
    export = tmp_path / "export.json"

    def write_export(label: str) -> None:
        export.write_text(json.dumps([{"id": i, "data": {"text": f"t{i}"}, "annotations": [
            {"id": i, "result": [{"from_name": "sentiment", "to_name": "text",
                                  "type": "choices", "value": {"choices": [label]}}]}]}
            for i in range(4)], ensure_ascii=False))

    write_export("积极")
    first = run("train", str(be), "--tasks", str(export), "--label-config", str(config),
                "--project", "demo")
    assert first.returncode == 0, first.stderr
    write_export("消极")
    second = run("train", str(be), "--tasks", str(export), "--project", "demo")
    assert second.returncode == 0, second.stderr  # the label config was remembered
    v1, v2 = first.stdout.split()[2], second.stdout.split()[2]
    listing = run("versions", str(be)).stdout
    rows = {line.split("│")[2].strip(): line for line in listing.splitlines()
            if line.count("│") > 3 and line.split("│")[2].strip().isdigit()}
    assert set(rows) == {v1, v2} and "ok" in rows[v1] and "ok" in rows[v2]
    assert rows[v2].split("│")[1].strip() == "*" and rows[v1].split("│")[1].strip() == ""

    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps([{"data": {"text": "a"}}]))
    out = json.loads(run("predict", str(be), "--tasks", str(tasks), "--project", "demo").stdout)
    assert out["results"][0]["result"][0]["value"]["choices"] == ["消极"]
    assert out["model_version"] == f"EchoModel-{v2}"

    back = run("rollback", str(be), "--project", "demo", "--version", v1)
    assert back.returncode == 0 and f"EchoModel-{v1}" in back.stdout
    out = json.loads(run("predict", str(be), "--tasks", str(tasks), "--project", "demo").stdout)
    assert out["results"][0]["result"][0]["value"]["choices"] == ["积极"]
    bad = run("rollback", str(be), "--project", "demo", "--version", "123")
    assert bad.returncode != 0 and "does not exist" in bad.stderr


def test_train_errors_are_messages(tmp_path: Path) -> None:
    be = tmp_path / "be"
    run("init", str(be), "--script", str(MODELS / "echo_model.py"))
    export = tmp_path / "export.json"
    export.write_text("{broken")
    result = run("train", str(be), "--tasks", str(export))
    assert result.returncode != 0 and "label config" in result.stderr
    config = tmp_path / "c.xml"
    config.write_text(TEXT_CONFIG)
    result = run("train", str(be), "--tasks", str(export), "--label-config", str(config))
    assert result.returncode != 0 and "cannot read tasks" in result.stderr
    assert "Traceback" not in result.stderr
    result = run("start", str(tmp_path / "missing"))
    assert result.returncode != 0 and "does not exist" in result.stderr


def test_wsgi_script_runs_the_same_server(tmp_path: Path) -> None:
    be = tmp_path / "be"
    run("init", str(be))
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(be / "_wsgi.py"), "--port", str(port),
                             "--host", "127.0.0.1", "--log-level", "DEBUG", "--debug"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        health = wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/health").json())
        assert health["model_class"] == "SimpleTextClassifier"
        httpx.post(f"http://127.0.0.1:{port}/setup", json={"project": "1.2", "schema": TEXT_CONFIG})
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert '"GET /health HTTP/1.1" 200' in out  # --debug logs every request
    assert "DEBUG labelloop.backend: setup project=1" in out


def test_several_workers_check_the_script_first_then_serve(tmp_path: Path) -> None:
    be = tmp_path / "be"
    run("init", str(be), "--script", str(MODELS / "echo_model.py"))
    (be / "echo_model.py").write_text("raise SystemError('broken on purpose')\n")
    result = run("start", str(be), "--workers", "2", "--port", str(free_port()))
    assert result.returncode != 0 and "broken on purpose" in result.stderr
    assert "Traceback" not in result.stderr

    good = tmp_path / "good"
    run("init", str(good), "--script", str(MODELS / "echo_model.py"))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "labelloop.cli.main", "start", str(good),
                             "--workers", "2", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        health = wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/health").json())
        assert health["model_class"] == "EchoModel"
    finally:
        proc.terminate()
        proc.wait(15)


def test_init_a_bundled_example(tmp_path: Path) -> None:
    made = run("init", str(tmp_path / "ner"), "--example", "ner")
    assert made.returncode == 0 and "NerTagger" in made.stdout, made.stderr
    assert (tmp_path / "ner" / "ner_tagger.py").exists()
    both = run("init", str(tmp_path / "x"), "--example", "ner", "--script", str(EXAMPLE))
    assert both.returncode != 0 and "choose one" in both.stderr


def test_train_adds_to_the_training_set_and_only_replace_removes(tmp_path: Path) -> None:
    be = tmp_path / "be"
    assert run("init", str(be), "--script", str(MODELS / "echo_model.py")).returncode == 0
    config = tmp_path / "config.xml"
    config.write_text(TEXT_CONFIG)
    models = tmp_path / "models"

    def train(ids: range, *flags: str) -> subprocess.CompletedProcess[str]:
        export = tmp_path / "export.json"
        export.write_text(json.dumps([{"id": i, "data": {"text": f"t{i}"}, "annotations": [
            {"id": i, "result": [{"from_name": "sentiment", "to_name": "text",
                                  "type": "choices", "value": {"choices": ["积极"]}}]}]}
            for i in ids], ensure_ascii=False))
        result = run("train", str(be), "--tasks", str(export), "--label-config", str(config),
                     "--project", "demo", "--model-dir", str(models), *flags)
        assert result.returncode == 0, result.stderr
        return result

    def stored() -> set[str]:
        return {p.stem for p in (models / "demo" / ".annotations").glob("*.json")}

    train(range(0, 4))
    assert "removed" not in train(range(3, 6)).stdout
    assert stored() == {str(i) for i in range(6)}
    replaced = train(range(4, 6), "--replace")
    assert "--replace removed 4 annotation(s)" in replaced.stdout
    assert stored() == {"4", "5"}
