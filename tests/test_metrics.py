"""/metrics: Prometheus text parsed with prometheus-client's own parser; with --workers 2
the counters add up across server processes, and training is counted wherever it ran."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from support.data import TEXT_CONFIG, annotation_event
from support.servers import Deployment
from support.waiting import wait_until

PREDICTS = 24
ANNOTATIONS = 12


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def total(found: dict[str, list[tuple[dict[str, str], float]]], name: str,
          **labels: str) -> float:
    return sum(value for got, value in found.get(name, [])
               if all(got.get(k) == v for k, v in labels.items()))


def test_counters_add_up_across_processes(echo_backend: Path, deployment: Deployment) -> None:
    server = deployment.start(echo_backend, args=["--workers", "2"])
    body: dict[str, Any] = {"tasks": [{"data": {"text": "x"}}] * 3, "project": "1.1",
                            "label_config": TEXT_CONFIG}
    for _ in range(PREDICTS):
        # A fresh connection each time, so both worker processes get requests.
        resp = server.client.post("/predict", json=body, headers={"Connection": "close"})
        assert resp.status_code == 200
    for i in range(1, ANNOTATIONS + 1):
        event = annotation_event(i, i, f"t{i}", "积极" if i % 2 else "消极")
        assert server.client.post("/webhook", json=event).status_code == 200
    wait_until(lambda: (j := server.client.get("/is_training", params={"project": "1"}).json())[
        "latest"] and not j["is_training"] and j["latest"]["state"] == "finished", timeout=60)

    found = samples(server.client.get("/metrics").text)
    assert total(found, "labelloop_requests_total", route="/predict", status="200") == PREDICTS
    assert total(found, "labelloop_tasks_predicted_total", project="1") == PREDICTS * 3
    assert total(found, "labelloop_webhooks_total", action="ANNOTATION_CREATED") == ANNOTATIONS
    assert total(found, "labelloop_request_duration_seconds_count", route="/predict") == PREDICTS
    ok = total(found, "labelloop_training_jobs_total", project="1", kind="train", outcome="ok")
    versions = [d for d in (deployment.model_dir / "1").iterdir() if d.name.isdigit()]
    assert ok >= 1 and ok == len(versions)  # counted by the job, where it ran
    assert total(found, "labelloop_training_duration_seconds_count", project="1") == ok
    served = [labels for labels, value in found["labelloop_served_version_info"]
              if labels["project"] == "1" and value == 1]
    assert served and served[0]["model_version"].startswith("EchoModel-")
    assert total(found, "labelloop_queue_depth", project="1") == 0
    assert total(found, "labelloop_model_load_seconds_count", project="1") >= 1


def test_metrics_need_basic_auth_and_can_be_off(echo_backend: Path, start_server: Any) -> None:
    guarded = start_server(echo_backend, args=["--basic-auth-user", "u",
                                               "--basic-auth-pass", "p"])
    assert guarded.client.get("/metrics").status_code == 401
    assert guarded.client.get("/metrics", auth=("u", "p")).status_code == 200
    off = start_server(echo_backend, env={"LABELLOOP_METRICS": "false"})
    resp = off.client.get("/metrics")
    assert resp.status_code == 404 and "LABELLOOP_METRICS" in resp.json()["message"]
