from __future__ import annotations

from pathlib import Path

import pytest

from labelloop.errors import InvalidField, InvalidProjectId, NotFound
from labelloop.store.jobs import FileJobStore, JobRecord, new_job_id
from labelloop.store.project_ids import project_key
from labelloop.store.projects import FileProjectRegistry, ProjectInfo
from labelloop.store.training_set import FileTrainingSetStore
from labelloop.store.versions import FileVersionStore


@pytest.mark.parametrize("good, key", [("1.1795555096", "1"), (7, "7"),
                                       ("my_project-1", "my_project-1"),
                                       ("text_classification_project1a43",
                                        "text_classification_project1a43")])
def test_project_keys(good: object, key: str) -> None:
    assert project_key(good) == key


@pytest.mark.parametrize("bad", ["../x", "..", "/etc", "a/b", "a\x00b", "", ".hidden", -1, True,
                                 None, 1.5, "x" * 200, "a..b", "C:\\x"])
def test_project_keys_that_could_escape_are_refused(bad: object) -> None:
    with pytest.raises(InvalidProjectId):
        project_key(bad)


def test_versions_lifecycle(tmp_path: Path) -> None:
    store = FileVersionStore(tmp_path)
    assert store.current_version("p") is None and store.history("p") == []
    v1, d1 = store.create("p")
    v2, d2 = store.create("p")
    assert int(v2) > int(v1) and d1.is_dir() and d2.is_dir()
    assert [i.status for i in store.history("p")] == ["incomplete", "incomplete"]
    assert store.current_version("p") is None  # nothing finished: nothing to serve
    store.finish("p", v1, {"status": "ok", "train_output": {"a": 1}})
    assert store.current_version("p") == v1
    store.finish("p", v2, {"status": "error", "error": "boom"})
    assert store.current_version("p") == v1  # a failed job never becomes current
    v3, _ = store.create("p")
    store.finish("p", v3, {"status": "ok", "train_output": {"a": 3}})
    assert store.current_version("p") == v3
    assert store.get("p", v3).train_output == {"a": 3}
    store.set_current("p", v1)  # rollback
    assert store.current_version("p") == v1
    assert [i.current for i in store.history("p")] == [True, False, False]
    with pytest.raises(NotFound):
        store.set_current("p", v2)  # an error version cannot be served
    with pytest.raises(NotFound):
        store.get("p", "../../etc")
    assert store.projects() == ["p"]


def test_versions_without_pointer_serve_newest_ok(tmp_path: Path) -> None:
    store = FileVersionStore(tmp_path)
    v1, _ = store.create("p")
    store.finish("p", v1, {"status": "ok", "train_output": {}})
    (tmp_path / "p" / ".current").unlink()
    assert store.current_version("p") == v1


def test_training_set_upsert_is_idempotent_and_delete_removes(tmp_path: Path) -> None:
    store = FileTrainingSetStore(tmp_path)
    task = {"id": 10, "data": {"text": "好"}, "annotations": ["ignored"], "predictions": [1]}
    ann = {"id": 1, "result": [{"value": {"choices": ["积极"]}}]}
    store.upsert("p", ann, task)
    store.upsert("p", ann, task)
    store.upsert("p", {**ann, "result": [{"value": {"choices": ["消极"]}}]}, task)
    store.upsert("p", {"id": 2, "result": []}, task)
    store.upsert("p", {"id": 3, "result": []}, {"id": 11, "data": {"text": "差"}})
    snap = store.snapshot("p")
    assert [t["id"] for t in snap] == [10, 11]
    assert [a["id"] for a in snap[0]["annotations"]] == [1, 2]
    assert snap[0]["annotations"][0]["result"][0]["value"]["choices"] == ["消极"]
    assert "predictions" not in snap[0]
    assert store.delete("p", ["1", "3", "99"]) == 2
    assert [(t["id"], len(t["annotations"])) for t in store.snapshot("p")] == [(10, 1)]


def test_training_set_replace(tmp_path: Path) -> None:
    store = FileTrainingSetStore(tmp_path)
    store.upsert("p", {"id": 1, "result": []}, {"id": 1, "data": {}})
    removed = store.replace("p", [{"id": 5, "data": {"t": 1},
                                   "annotations": [{"id": 7, "result": []}]}])
    assert removed == 1
    assert [(t["id"], [a["id"] for a in t["annotations"]]) for t in store.snapshot("p")] == [
        (5, [7])]


@pytest.mark.parametrize("bad", ["../1", "1.5", None, -3, "x"])
def test_annotation_ids_are_checked(tmp_path: Path, bad: object) -> None:
    with pytest.raises(InvalidField, match="annotation"):
        FileTrainingSetStore(tmp_path).upsert("p", {"id": bad}, {"id": 1, "data": {}})


def test_registry_round_trip_and_private_file(tmp_path: Path) -> None:
    reg = FileProjectRegistry(tmp_path)
    assert reg.get("1") is None
    info = ProjectInfo("<View/>", "http://ls", "tok", {"a": 1})
    reg.save("1", info)
    assert reg.get("1") == info
    assert (tmp_path / "1" / ".project.json").stat().st_mode & 0o777 == 0o600


def test_job_records(tmp_path: Path) -> None:
    jobs = FileJobStore(tmp_path)
    rec = JobRecord(new_job_id(), "p", "queued")
    jobs.put(rec)
    assert jobs.get(rec.job_id) == rec and jobs.latest("p") is None
    jobs.put(rec.update(state="running"))
    assert jobs.latest("p").state == "running"  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        jobs.get(new_job_id())
    with pytest.raises(InvalidField):
        jobs.get("../../etc/passwd")


def test_training_set_merge_adds_and_updates_and_keeps_the_rest(tmp_path: Path) -> None:
    store = FileTrainingSetStore(tmp_path)
    store.upsert("p", {"id": 1, "result": []}, {"id": 1, "data": {}})
    store.upsert("p", {"id": 2, "result": []}, {"id": 2, "data": {}})
    added = store.merge("p", [{"id": 2, "data": {"t": 2}, "annotations": [
        {"id": 2, "result": ["new"]}, {"id": 3, "result": []}]}])
    assert added == 2
    snap = {a["id"]: a for t in store.snapshot("p") for a in t["annotations"]}
    assert sorted(snap) == [1, 2, 3] and snap[2]["result"] == ["new"]
    with pytest.raises(InvalidField):  # one bad id: nothing written
        store.merge("p", [{"id": 9, "data": {}, "annotations": [{"id": 9}, {"id": "x"}]}])
    assert sorted(a["id"] for t in store.snapshot("p") for a in t["annotations"]) == [1, 2, 3]
