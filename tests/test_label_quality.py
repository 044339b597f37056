"""Annotation quality through real training jobs: the label audit finds planted wrong
labels, several annotators are merged by consensus, and ``labelloop audit`` shows both."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from support.data import TWO_LABEL_CONFIG, annotation_event
from support.reviews import planted, review
from support.servers import Deployment, Server
from support.waiting import settled
from test_status_page import _css, _screenshot, browser  # noqa: F401 - a fixture

NO_AUTO_TRAIN = {"LABELLOOP_TRAIN_ON_ANNOTATION": "false"}


def send(server: Server, ann_id: int, task: int, text: str, label: str,
         annotator: int = 1) -> None:
    body = annotation_event(ann_id, task, text, label, config=TWO_LABEL_CONFIG)
    body["annotation"]["completed_by"] = annotator
    answer = server.client.post("/webhook", json=body)
    assert answer.status_code == 200, answer.text


def train(server: Server, besides: str | None = None) -> dict[str, Any]:
    answer = server.client.post("/webhook", json={"action": "START_TRAINING",
                                                  "project": {"id": 1}})
    assert answer.status_code == 200, answer.text
    job = settled(server, besides=besides, timeout=120)
    assert job["state"] == "finished", job
    return job


def job_result(model_dir: Path, version: str) -> dict[str, Any]:
    return dict(json.loads((model_dir / "1" / version / "job_result.json").read_text()))


FLIPPED = {5, 17, 42, 66, 90, 111, 130, 144}


def annotate_planted(server: Server, count: int = 150) -> None:
    for task, text, label in planted(count, FLIPPED):
        send(server, task, task, text, label)


def test_the_audit_finds_planted_wrong_labels_and_consensus_merges_annotators(
        text_backend: Path, deployment: Deployment) -> None:
    server = deployment.start(text_backend, env=NO_AUTO_TRAIN)
    annotate_planted(server)
    # Task 200 is seen by three annotators: two agree; a third (a careless one) does not.
    rng = random.Random(3)
    text = review(rng, True)
    for ann_id, annotator, label in ((1001, 11, "积极"), (1002, 12, "积极"), (1003, 13, "消极")):
        send(server, ann_id, 200, text, label, annotator)
    job = train(server)
    result = job_result(deployment.model_dir, str(job["version"]))

    audit = result["audit"]
    assert audit["status"] == "done" and audit["audited"] == 151, audit
    found = {s["task"] for s in audit["suspects"]}
    assert found >= FLIPPED, sorted(FLIPPED - found)
    assert len(found - FLIPPED) <= 3, sorted(found - FLIPPED)  # few false alarms
    first = audit["suspects"][0]
    assert set(first) >= {"task", "annotation", "annotator", "given", "suggested", "score"}
    assert first["given"] != first["suggested"] and 0 < first["score"] <= 1
    assert [s["score"] for s in audit["suspects"]] == sorted(
        (s["score"] for s in audit["suspects"]), reverse=True)
    assert audit["seconds"] > 0 and audit["folds"] == 3  # the hold-out + LABELLOOP_AUDIT_FOLDS

    consensus = result["consensus"]
    assert consensus["method"] == "dawid_skene" and consensus["tasks_with_several"] == 1
    assert consensus["labels"] == {"200": "积极"}
    assert consensus["agreement"] == {"200": 0.667}
    assert set(consensus["annotators"]) == {"1", "11", "12", "13"}
    assert consensus["annotators"]["13"] < consensus["annotators"]["11"]

    table = deployment.cli(text_backend, "audit", "--project", "1")
    assert table.returncode == 0, table.stderr
    assert "probably mislabelled" in table.stdout and "annotator" in table.stdout
    rows = json.loads(deployment.cli(text_backend, "audit", "--project", "1",
                                     "--format", "json").stdout)
    assert {r["task"] for r in rows["suspects"]} == found
    assert rows["version"] == job["version"] and rows["annotators"]["13"] < 1
    listed = list(csv.DictReader(io.StringIO(deployment.cli(
        text_backend, "audit", "--project", "1", "--format", "csv").stdout)))
    assert [int(r["task"]) for r in listed] == [s["task"] for s in audit["suspects"]]
    assert set(listed[0]) >= {"task", "annotation", "annotator", "given", "suggested", "score"}


@pytest.mark.parametrize("setting, expected", [("latest", "消极"), ("majority", "积极")])
def test_the_consensus_setting_decides_the_label_trained_on(
        text_backend: Path, start_server: Any, tmp_path: Path, setting: str,
        expected: str) -> None:
    server = start_server(text_backend, env={**NO_AUTO_TRAIN, "LABELLOOP_CONSENSUS": setting,
                                             "LABELLOOP_AUDIT": "false"})
    annotate_planted(server, 30)
    text = review(random.Random(3), True)
    for ann_id, annotator, label in ((1001, 11, "积极"), (1002, 12, "积极"), (1003, 13, "消极")):
        send(server, ann_id, 200, text, label, annotator)
    result = job_result(tmp_path / "models", str(train(server)["version"]))
    assert result["consensus"]["method"] == setting
    assert result["consensus"]["labels"] == {"200": expected}
    assert result["audit"] == {"status": "skipped", "suspects": [],
                               "reason": "the label audit is off (LABELLOOP_AUDIT)"}


def test_a_model_without_class_probabilities_skips_the_audit(
        echo_backend: Path, start_server: Any, tmp_path: Path) -> None:
    server = start_server(echo_backend, env=NO_AUTO_TRAIN)
    annotate_planted(server, 30)
    result = job_result(tmp_path / "models", str(train(server)["version"]))
    assert result["audit"]["status"] == "skipped"
    assert "has no class_probabilities()" in result["audit"]["reason"]


def test_audit_cli_says_clearly_when_there_is_nothing(text_backend: Path,
                                                      tmp_path: Path) -> None:
    from click.testing import CliRunner

    from labelloop.cli.main import cli

    answer = CliRunner().invoke(cli, ["audit", str(text_backend), "--project", "9",
                                      "--model-dir", str(tmp_path / "none")])
    assert answer.exit_code != 0 and "no version serves" in answer.output
    assert "Traceback" not in answer.output
    bad = CliRunner().invoke(cli, ["audit", str(text_backend), "--project", "9",
                                   "--format", "xml"])
    assert bad.exit_code == 2 and "xml" in bad.output


def test_status_page_lists_the_suspects_with_links_to_label_studio(
        text_backend: Path, start_server: Any, browser: Any) -> None:  # noqa: F811
    """The "probably mislabelled" table and the annotators, as Chromium draws them."""
    server = start_server(text_backend, env={**NO_AUTO_TRAIN,
                                             "LABELLOOP_LABEL_STUDIO_URL": "http://ls.test:8080"})
    annotate_planted(server)
    text = review(random.Random(3), True)
    for ann_id, annotator, label in ((1001, 11, "积极"), (1002, 12, "积极"), (1003, 13, "消极")):
        send(server, ann_id, 200, text, label, annotator)
    train(server)
    browser.get(f"{server.url}/status?refresh=0")
    rows = _css(browser, "table.suspects tbody tr")
    tasks = {int(r.get_attribute("data-task")) for r in rows}
    assert tasks >= FLIPPED and len(tasks) <= len(FLIPPED) + 3, tasks
    link = _css(browser, f'table.suspects tr[data-task="{min(FLIPPED)}"] a')[0]
    assert link.get_attribute("href") == f"http://ls.test:8080/projects/1/data?task={min(FLIPPED)}"
    given, suggested = (c.text for c in _css(
        browser, f'table.suspects tr[data-task="{min(FLIPPED)}"] td')[3:5])
    assert {given, suggested} == {"积极", "消极"}
    annotators = [r.get_attribute("data-annotator")
                  for r in _css(browser, "table.annotators tbody tr")]
    assert sorted(annotators) == ["1", "11", "12", "13"] and annotators[0] == "13"
    assert _screenshot(browser, "status_page_mislabelled.png").stat().st_size > 10_000


def _ann(ident: int, who: int | None, label: str) -> dict[str, Any]:
    return {"id": ident, "completed_by": who, "result": [
        {"from_name": "sentiment", "to_name": "text", "type": "choices",
         "value": {"choices": [label]}}]}


def test_consensus_keeps_one_real_annotation_and_never_edits_it() -> None:
    from labelloop.training.consensus_labels import with_consensus

    edited = {"id": 1, "data": {"text": "x"}, "annotations": [
        _ann(1, 5, "积极"), _ann(2, 5, "消极")]}  # one annotator changed their mind
    crowd = {"id": 2, "data": {"text": "y"}, "annotations": [
        _ann(3, 5, "消极"), _ann(4, 6, "积极"), _ann(5, 7, "积极"), _ann(6, None, "积极")]}
    alone = {"id": 3, "data": {"text": "z"}, "annotations": [_ann(7, 5, "积极")]}
    before = json.dumps([edited, crowd, alone])
    trained, summary = with_consensus([edited, crowd, alone], "sentiment", "majority")
    assert json.dumps([edited, crowd, alone]) == before  # the inputs are untouched
    assert [a["id"] for t in trained for a in t["annotations"]] == [2, 6, 7]
    assert trained[1]["annotations"][0] is crowd["annotations"][3]  # the newest agreeing
    # Task 1 has one voice (one annotator's newest), so no agreement to speak of.
    assert summary["labels"] == {"2": "积极"} and summary["agreement"] == {"2": 0.75}
    assert summary["annotations"] == {"5": 4, "6": 1, "7": 1, "annotation-6": 1}


def test_suspects_become_predictions_label_studio_accepts() -> None:
    from labelloop.training.audit import AUDIT_VERSION
    from labelloop.training.audit_upload import audit_predictions

    suspects = [{"task": 12, "annotation": 30, "annotator": "4", "given": "积极",
                 "suggested": "消极", "score": 0.81}, {"task": "not-a-task", "score": 0.5}]
    [stored] = audit_predictions(suspects, "sentiment", "text")
    assert stored["task"] == 12 and stored["model_version"] == AUDIT_VERSION
    assert stored["score"] == 0.81
    [region] = stored["result"]
    assert (region["from_name"], region["to_name"], region["type"]) == (
        "sentiment", "text", "choices")
    assert region["value"] == {"choices": ["消极"]}


def _quality(several: int) -> dict[str, Any]:
    return {"quality": {"project": "1", "version": "3", "audit": {"status": "done",
            "audited": 40}, "suspects": [], "annotators": {"4": 0.5, "7": 0.497},
            "annotations": {"4": 30, "7": 10}, "label_studio": None,
            "consensus": {"method": "dawid_skene", "tasks": 40, "tasks_with_several": several}}}


def test_status_hides_annotator_accuracy_when_no_task_has_several_annotations() -> None:
    from labelloop.server.quality_panel import quality_panel

    alone = quality_panel(_quality(0))
    assert "no accuracy estimated" in alone and "accuracy (dawid_skene)" not in alone
    assert "0.500" not in alone and "0.497" not in alone
    assert 'data-annotator="4"' in alone and ">30<" in alone  # who annotated, and how much
    compared = quality_panel(_quality(2))
    assert "no accuracy estimated" not in compared
    assert "accuracy (dawid_skene)" in compared and "0.497" in compared
