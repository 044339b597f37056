"""A script that refuses the label config says so at /setup, as Label Studio 0.9's backend
did: a JSON error naming the script's file and line and the exception, the same at
/predict, and the traceback in the ``--debug`` log. Real ``labelloop start`` processes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support.data import TEXT_CONFIG
from support.servers import Server, make_backend

SCRIPTS = Path(__file__).parent / "compat_scripts"
NER_CONFIG = ('<View><Text name="text" value="$text"/><Labels name="label" toName="text">'
              '<Label value="PER"/></Labels></View>')
STRICT = '''from labelloop.sdk import LabelStudioModel


class Strict(LabelStudioModel):
    def setup(self):
        assert self.label_config.control().type == "labels"

    def predict(self, tasks, context=None, **kwargs):
        return [{"result": []} for _ in tasks]
'''


def line_of(script: Path, text: str) -> int:
    return next(i for i, line in enumerate(script.read_text().splitlines(), 1) if text in line)


def setup_body(config: str) -> dict[str, object]:
    return {"project": "1.1795555597", "schema": config, "hostname": "http://127.0.0.1:9",
            "access_token": "t", "extra_params": None}


def test_setup_names_the_script_line_that_refused_the_config(
        tmp_path: Path, start_server: Callable[..., Server]) -> None:
    script = SCRIPTS / "gen1_text_classifier.py"
    server = start_server(make_backend(tmp_path / "be", script), args=["--debug"])
    resp = server.client.post("/setup", json=setup_body(NER_CONFIG))
    assert resp.status_code == 500, resp.text
    body = resp.json()
    assert body["error"] == "model_error"
    where = body["script"]
    assert where["file"] == "gen1_text_classifier.py"
    assert where["line"] == line_of(script, "get_single_tag_keys(")
    assert where["exception"] == "AssertionError" and "<Choices>" in where["message"]
    assert f"gen1_text_classifier.py, line {where['line']}" in body["message"]
    predict = server.client.post("/predict", json={
        "tasks": [{"data": {"text": "x"}}], "project": "1.1795555597",
        "label_config": NER_CONFIG})
    assert predict.status_code == 500 and predict.json()["script"] == where
    log = server.log.read_text()
    assert "Traceback (most recent call last)" in log and "get_single_tag_keys" in log
    assert server.client.post("/setup", json=setup_body(TEXT_CONFIG)).status_code == 200


def test_a_bare_assert_still_names_file_line_and_type(
        tmp_path: Path, start_server: Callable[..., Server]) -> None:
    script = tmp_path / "strict.py"
    script.write_text(STRICT)
    server = start_server(make_backend(tmp_path / "be", script))
    resp = server.client.post("/setup", json=setup_body(TEXT_CONFIG))
    assert resp.status_code == 500, resp.text
    assert resp.json()["script"] == {"file": "strict.py", "line": line_of(script, "assert"),
                                     "exception": "AssertionError", "message": ""}
    assert "Strict() failed to load: AssertionError:  (strict.py, line 6)" in resp.json()[
        "message"]
    ok = server.client.post("/setup", json=setup_body(NER_CONFIG))
    assert ok.status_code == 200 and ok.json()["model_version"] == "Strict-untrained"
