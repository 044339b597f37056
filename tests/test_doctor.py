"""`labelloop doctor`'s judgements: what each seen state means, and the fix it names.
(The same checks against a real Label Studio: tests/e2e/test_doctor.py.)"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from labelloop.backend.connection import Report, held_tokens
from labelloop.backend.connection_judge import (
    Check,
    judge_file,
    judge_latency,
    judge_legacy,
    judge_ml_backend,
    judge_predictions,
    judge_reachable,
    judge_redis,
    judge_token,
    judge_webhook,
    token_kind,
)
from labelloop.cli.main import cli
from labelloop.server.status_page import connection_panel
from labelloop.settings import Settings
from labelloop.store.projects import ProjectInfo

LEGACY = "0123456789abcdef0123456789abcdef01234567"
PAT = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"
LOCAL = "http://127.0.0.1:9090"


def entry(state: str = "CO", url: str = LOCAL, **more: Any) -> dict[str, Any]:
    return {"id": 3, "url": url, "state": state, "title": "labelloop",
            "model_version": "SimpleTextClassifier-v2", **more}


def test_token_kinds() -> None:
    assert token_kind(LEGACY) == "legacy token"
    assert token_kind(PAT) == "personal access token"
    assert token_kind("hunter2") == "unknown kind of token"


def test_reachable() -> None:
    assert judge_reachable("http://ls", 200, None).status == "ok"
    down = judge_reachable("http://ls", None, "ConnectError")
    assert down.status == "fail" and "--label-studio" in (down.fix or "")
    assert "answered 502" in judge_reachable("http://ls", 502, None).seen


def test_token_judgements() -> None:
    assert judge_token(None, None, "", None).status == "fail"
    good = judge_token(PAT, 200, "{}", "a@b.c")
    assert good.status == "ok" and "personal access token of a@b.c" in good.seen
    wrong = judge_token(LEGACY, 401, '{"detail":"Invalid token."}', None)
    assert wrong.status == "fail" and "refuses" in wrong.seen
    off = judge_token(LEGACY, 401, "Authentication token no longer valid: legacy token "
                      "authentication has been disabled for this organization", None,
                      "backend's token (/setup)")
    assert off.name == "backend_token" and "Legacy Tokens" in (off.fix or "")


def test_legacy_off_fails_only_while_the_backend_holds_a_legacy_token() -> None:
    assert judge_legacy(False, {"/setup": LEGACY}).status == "fail"
    assert judge_legacy(False, {"LABEL_STUDIO_API_KEY": PAT}).status == "ok"
    assert judge_legacy(True, {"/setup": LEGACY}).status == "ok"
    assert judge_legacy(None, {"/setup": LEGACY}).status == "warn"


def test_held_tokens_prefer_the_environment(tmp_path: Path) -> None:
    info = ProjectInfo("<View/>", "http://ls", LEGACY)
    plain = Settings.from_env({}, backend_dir=tmp_path)
    assert held_tokens(plain, info) == {"/setup": LEGACY}
    env = Settings.from_env({"LABEL_STUDIO_API_KEY": PAT}, backend_dir=tmp_path)
    assert held_tokens(env, info) == {"LABEL_STUDIO_API_KEY": PAT}
    assert held_tokens(plain, None) == {}


def test_ml_backend_states() -> None:
    assert judge_ml_backend(1, [entry()], LOCAL, True).status == "ok"
    blocked = judge_ml_backend(1, [entry("DI")], LOCAL, answers_here=True)
    assert blocked.status == "fail" and "ML_BLOCK_LOCAL_IP=false" in (blocked.fix or "")
    gone = judge_ml_backend(1, [entry("DI")], LOCAL, answers_here=False)
    assert "cannot reach" in gone.seen and "labelloop start" in (gone.fix or "")
    error = judge_ml_backend(1, [entry("ER", error_message="boom")], LOCAL, True)
    assert error.status == "fail" and "boom" in error.seen
    missing = judge_ml_backend(1, [], LOCAL, True)
    assert "Connect Model" in (missing.fix or "") and "ML_BLOCK_LOCAL_IP" in (missing.fix or "")
    public = judge_ml_backend(1, [], "https://93.184.216.34", False)
    assert "ML_BLOCK_LOCAL_IP" not in (public.fix or "")
    several = judge_ml_backend(1, [entry(), entry(url="http://10.0.0.2:9090")], None, True)
    assert "--backend-url" in (several.fix or "")


def test_urls_are_shown_without_credentials() -> None:
    check = judge_ml_backend(1, [entry("DI", url="http://u:pw@127.0.0.1:9090")],
                             "http://u:pw@127.0.0.1:9090", False)
    assert "pw" not in check.seen and "127.0.0.1:9090" in check.seen


def hook(**more: Any) -> dict[str, Any]:
    return {"id": 5, "url": f"{LOCAL}/webhook", "is_active": True, "send_payload": True,
            "send_for_all_actions": True, "actions": [], "headers": {}, **more}


def test_webhook_judgements() -> None:
    assert judge_webhook([hook()], LOCAL, None).status == "ok"
    none = judge_webhook([], LOCAL, None)
    assert none.status == "fail" and "SSRF_PROTECTION_ENABLED=false" in (none.fix or "")
    assert "SSRF" not in (judge_webhook([], "https://93.184.216.34", None).fix or "")
    inactive = judge_webhook([hook(is_active=False)], LOCAL, None)
    assert inactive.status == "fail" and "inactive" in inactive.seen
    secret = secrets.token_hex(8)
    no_secret = judge_webhook([hook()], LOCAL, secret)
    assert no_secret.status == "fail" and secret not in no_secret.seen + (no_secret.fix or "")
    assert judge_webhook([hook(url=f"{LOCAL}/webhook?secret={secret}")], LOCAL,
                         secret).status == "ok"
    assert judge_webhook([hook(headers={"X-Labelloop-Secret": secret})], LOCAL,
                         secret).status == "ok"
    narrow = judge_webhook([hook(send_for_all_actions=False, actions=["PROJECT_UPDATED"])],
                           LOCAL, None)
    assert "new annotations" in narrow.seen


def test_prediction_judgements() -> None:
    shown = {"show_collab_predictions": True, "model_version": "labelloop"}
    served = "SimpleTextClassifier-v2"
    assert judge_predictions(shown, {}, entry(), served).status == "ok"
    hidden = judge_predictions({**shown, "show_collab_predictions": False}, {}, entry(), served)
    assert hidden.status == "fail" and "prelabel" in (hidden.fix or "")
    unset = judge_predictions({**shown, "model_version": ""}, {}, entry(), served)
    assert unset.status == "fail" and "labelloop" in (unset.fix or "")
    empty = judge_predictions({**shown, "model_version": "old"}, {"old": 0}, entry(), served)
    assert empty.status == "fail" and "Retrieve Predictions" in (empty.fix or "")
    stale = judge_predictions({**shown, "model_version": "old"}, {"old": 9}, entry(), served)
    assert stale.status == "warn" and served in stale.seen
    lagging = judge_predictions(shown, {}, entry(model_version="SimpleTextClassifier-v1"),
                                served)
    assert lagging.status == "warn"
    current = judge_predictions({**shown, "model_version": served}, {served: 4}, entry(), served)
    assert current.status == "ok"


def test_file_judgements() -> None:
    assert judge_file("/data/upload/1/a.png", 200, None, "file") is None
    _, fix = judge_file("/data/local-files/?d=a.txt", 403, None, "file") or ("", "")
    assert "LOCAL_FILES_SERVING_ENABLED=true" in fix
    _, fix = judge_file("/data/local-files/?d=a.txt", 404, None, "file") or ("", "")
    assert "Local files" in fix
    _, fix = judge_file("/data/upload/1/a.png", 401, None, "file") or ("", "")
    assert "LABEL_STUDIO_API_KEY" in fix
    _seen, fix = judge_file("s3://b/k.png", 500, None, "storage") or ("", "")
    assert "Cloud Storage" in fix


def test_latency_against_label_studio_timeouts() -> None:
    assert judge_latency("predict", 0.2, None).status == "ok"
    assert judge_latency("predict", 60.0, None).status == "warn"
    slow = judge_latency("predict", 101.0, None)
    assert slow.status == "fail" and "ML_TIMEOUT_PREDICT" in (slow.fix or "")
    assert judge_latency("health", 1.5, None).status == "fail"
    assert judge_latency("predict", None, "500 boom").status == "fail"


def test_redis_judgements() -> None:
    assert judge_redis(False, 0, 0, None, 0).status == "fail"
    idle = judge_redis(True, 0, 2, 5.0, 0)
    assert idle.status == "fail" and "labelloop worker" in (idle.fix or "")
    assert judge_redis(True, 2, 1, 5.0, 1).status == "ok"
    stuck = judge_redis(True, 2, 3, 900.0, 0)
    assert stuck.status == "fail" and "does not move" in stuck.seen


def test_report_text_json_and_exit() -> None:
    report = Report([Check("a", "ok", "fine"), Check("b", "fail", "broken", "do X")], 1.25)
    assert report.failed and report.to_dict()["ok"] is False
    text = report.text()
    assert "FAIL b: broken" in text and "fix: do X" in text and "fix" not in text.split("\n")[0]


def test_panel_escapes_and_waits() -> None:
    html = connection_panel({"p<1>": {"checks": [
        {"name": "x", "status": "fail", "seen": "<script>", "fix": "a&b"}]}}, 3.0)
    assert "<script>" not in html and "&lt;script&gt;" in html and "a&amp;b" in html
    assert "checking" in connection_panel({}, None)


def test_cli_exits_nonzero_and_names_the_cause(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["doctor", str(tmp_path / "none"), "--label-studio",
                                      "http://127.0.0.1:9", "--format", "json"])
    assert result.exit_code == 1
    assert '"label_studio"' in result.output and '"fail"' in result.output


@pytest.mark.redis
def test_redis_check_against_a_real_redis_and_worker(tmp_path: Path) -> None:
    """No worker: training never starts (fail); one `labelloop worker`: ok; Redis gone: fail."""
    from labelloop.backend.connection import redis_check
    from support.data import EXAMPLE
    from support.servers import Deployment, RedisServer, make_backend
    from support.waiting import wait_until

    redis = RedisServer(tmp_path / "redis")
    deployment = Deployment("redis", tmp_path, redis)
    try:
        alone = redis_check(redis.url)
        assert alone.status == "fail" and "no worker" in alone.seen
        deployment.start_worker(make_backend(tmp_path / "backend", EXAMPLE))
        working = wait_until(lambda: (c := redis_check(redis.url)).status == "ok" and c,
                             timeout=60, interval=0.5)
        assert "1 worker(s)" in working.seen
    finally:
        deployment.stop()
        redis.stop()
    assert redis_check(redis.url).status == "fail"
