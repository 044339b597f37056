"""Re-scoring when Label Studio cannot be reached: the job fails with a message that says
so, in its record, and serving is unaffected (both modes)."""

from __future__ import annotations

from typing import Any

from labelloop.cli.studio import free_port
from support.calls import predict
from support.data import EXAMPLE, annotation_event
from support.servers import Deployment, make_backend
from support.waiting import settled


def test_label_studio_down_fails_the_rescoring_and_serving_goes_on(
        deployment: Deployment, tmp_path: Any) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    server = deployment.start(make_backend(tmp_path / "backend", EXAMPLE),
                              env={"LABEL_STUDIO_URL": down, "LABEL_STUDIO_API_KEY": "k",
                                   "LABELLOOP_RESCORE": "true"},
                              args=["--active-learning"])
    for i in range(1, 13):
        label = "积极" if i % 2 else "消极"
        text = f"{'很好，满意' if i % 2 else '太差了，失望'} {i}"
        assert server.client.post("/webhook", json=annotation_event(i, i, text, label)
                                  ).status_code == 200
    job = settled(server, kind="rescore")
    assert job["state"] == "failed" and job["outcome"] == "failed", job
    assert f"cannot reach Label Studio at {down}" in job["error"], job["error"]
    served = server.client.get("/is_training", params={"project": "1"}).json()["latest"]
    assert served["outcome"] == "promoted" and job["version"] == served["version"]
    answer = predict(server, ["很好，满意"])["results"][0]
    assert answer["model_version"].endswith(f"-{served['version']}")
    assert answer["result"][0]["value"]["choices"] == ["积极"]
    assert server.client.get("/health").json()["status"] == "UP"
