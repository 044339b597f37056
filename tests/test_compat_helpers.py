"""The helpers behind the compat stand-in modules: legacy parse_config, get_local_path,
the ``*.utils`` task helpers and label-studio-ml 2.x's ModelResponse.

Downloads go to real HTTP servers on loopback ports, started here in threads: one plays
Label Studio, the other a third-party host (a bucket a presign redirects to).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from pydantic import BaseModel, ValidationError

from labelloop.compat import local_files
from labelloop.compat.legacy_config import parse_config
from labelloop.compat.local_files import (
    get_cache_dir,
    get_data_dir,
    get_env,
    get_local_path,
)
from labelloop.compat.response import ModelResponse, normalize_predictions
from labelloop.compat.task_helpers import (
    InMemoryLRUDictCache,
    compare_nested_structures,
    get_choice,
    get_choice_completions,
    get_first_tag_keys,
    get_image_local_path,
    get_image_size,
    get_single_tag_keys,
    is_preload_needed,
    is_skipped,
    is_skipped_completions,
    is_valid_url,
    json_load,
    match_labels,
)
from labelloop.errors import InvalidLabelConfig, LabelStudioError, ModelError

TEXT_CHOICES = ('<View><Text name="text" value="$review"/>'
                '<Choices name="sentiment" toName="text">'
                '<Choice value="Positive" alias="P" hint="good"/><Choice value="Negative"/>'
                '</Choices></View>')
LEGACY_TOKEN = "0123456789abcdef"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"
ACCESS = "short-lived-access"
PNG = b"\x89PNG\r\n\x1a\n-fake-image-bytes"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No host, token or user directory from the machine running the tests leaks in."""
    for name in ("LABEL_STUDIO_URL", "LABEL_STUDIO_HOST", "LABEL_STUDIO_API_KEY",
                 "LABEL_STUDIO_ACCESS_TOKEN", "LABEL_STUDIO_HOSTNAME", "HEARTEX_HOSTNAME",
                 "HOSTNAME", "LOCAL_FILES_DOCUMENT_ROOT", "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT",
                 "LABEL_STUDIO_BASE_DATA_DIR", "BASE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


# -- parse_config -----------------------------------------------------------------------

def test_parse_config_text_choices_has_the_legacy_shape() -> None:
    assert parse_config(TEXT_CHOICES) == {
        "sentiment": {
            "type": "Choices",
            "to_name": ["text"],
            "inputs": [{"type": "Text", "value": "review"}],
            "labels": ["P", "Negative"],
            "labels_attrs": {
                "P": {"value": "Positive", "alias": "P", "hint": "good"},
                "Negative": {"value": "Negative"},
            },
        },
    }


def test_parse_config_multi_to_name_keeps_order_and_objects_may_come_later() -> None:
    cfg = parse_config(
        '<View><Labels name="ner" toName="title, body"><Label value="PER" background="red"/>'
        '</Labels><Text name="body" value="$body"/><HyperText name="title" value="$$title"/>'
        '</View>')
    assert cfg["ner"]["to_name"] == ["title", "body"]
    assert cfg["ner"]["inputs"] == [{"type": "HyperText", "value": "title"},
                                    {"type": "Text", "value": "body"}]
    assert cfg["ner"]["labels_attrs"]["PER"] == {"value": "PER", "background": "red"}


def test_parse_config_skips_unknown_to_name() -> None:
    cfg = parse_config('<View><Text name="text" value="$t"/>'
                       '<Choices name="c" toName="text,ghost"><Choice value="a"/></Choices>'
                       '<TextArea name="note" toName="nowhere"/></View>')
    assert cfg["c"]["to_name"] == ["text", "ghost"]
    assert cfg["c"]["inputs"] == [{"type": "Text", "value": "t"}]
    assert cfg["note"]["inputs"] == []


def test_parse_config_labels_go_to_nearest_control_and_filter_is_no_control() -> None:
    cfg = parse_config(
        '<View><Image name="img" value="$image"/>'
        '<RectangleLabels name="box" toName="img"><Label value="Car"/>'
        '<View><Label value="Bus"/></View></RectangleLabels>'
        '<Filter name="f" toName="box"/>'
        '<Relations><Relation value="drives"/></Relations>'
        '<Choices name="cls" toName="img" perRegion="true"><Choice value="big"/></Choices>'
        '<Label value="orphan"/></View>')
    assert set(cfg) == {"box", "cls"}
    assert cfg["box"]["labels"] == ["Car", "Bus"]
    assert cfg["cls"]["labels"] == ["big"]
    # <Relation> outside a control belongs to none (label-studio-ml counts it only inside one)
    cfg2 = parse_config('<View><Text name="t" value="$t"/><Labels name="l" toName="t">'
                        '<Label value="A"/><Relation value="rel"/></Labels></View>')
    assert cfg2["l"]["labels"] == ["A", "rel"]


@pytest.mark.parametrize("empty", [None, "", "   \n"])
def test_parse_config_empty_is_empty_dict(empty: str | None) -> None:
    assert parse_config(empty) == {}


@pytest.mark.parametrize("xml", [
    "<View><Text name='t' value='$t'>",
    "not xml",
    '<?xml version="1.0"?><!DOCTYPE v [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
    '<View><Text name="t" value="&b;"/></View>',
])
def test_parse_config_bad_or_unsafe_xml_is_invalid_label_config(xml: str) -> None:
    with pytest.raises(InvalidLabelConfig) as err:
        parse_config(xml)
    assert err.value.field == "label_config"
    assert err.value.status == 422


# -- environment and user dirs ----------------------------------------------------------

def test_get_env_prefix_order_and_bools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLTEST_X", "plain")
    assert get_env("LLTEST_X") == "plain"
    monkeypatch.setenv("HEARTEX_LLTEST_X", "heartex")
    assert get_env("LLTEST_X") == "heartex"
    monkeypatch.setenv("LABEL_STUDIO_LLTEST_X", "ls")
    assert get_env("LLTEST_X") == "ls"
    assert get_env("LLTEST_MISSING", default=7) == 7
    for raw, expected in (("YES", True), ("on", True), ("1", True),
                          ("not", False), ("Off", False), ("0", False)):
        monkeypatch.setenv("LLTEST_B", raw)
        assert get_env("LLTEST_B", is_bool=True) is expected
    monkeypatch.setenv("LLTEST_B", "maybe")
    with pytest.raises(ValueError, match="LLTEST_B"):
        get_env("LLTEST_B", is_bool=True)


def test_user_dirs_honour_xdg_and_are_created(tmp_path: Path) -> None:
    cache, data = Path(get_cache_dir()), Path(get_data_dir())
    assert cache == tmp_path / "xdg-cache" / "label-studio" and cache.is_dir()
    assert data == tmp_path / "xdg-data" / "label-studio" and data.is_dir()


# -- get_local_path: local files and uploads ----------------------------------------------

def test_local_files_url_resolves_under_document_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a b.txt").write_text("hi")
    (tmp_path / "secret.txt").write_text("no")
    monkeypatch.setenv("LOCAL_FILES_DOCUMENT_ROOT", str(root))
    url = "/data/local-files/?d=" + quote("sub/a b.txt")
    assert get_local_path(url) == str(root / "sub" / "a b.txt")
    with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
        get_local_path("/data/local-files/?d=sub/missing.txt")
    with pytest.raises(FileNotFoundError, match="outside"):
        get_local_path("/data/local-files/?d=../secret.txt")


def test_label_studio_0x_local_file_url(tmp_path: Path) -> None:
    folder = tmp_path / "my images"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"cat")
    url = f"/data/cat.jpg?d={quote(str(folder))}"
    assert get_local_path(url) == str(folder / "cat.jpg")
    with pytest.raises(FileNotFoundError):
        get_local_path(f"/data/dog.jpg?d={quote(str(folder))}")


def test_uploads_found_in_project_dir_or_image_dir(tmp_path: Path) -> None:
    project_dir = tmp_path / "ls0-project"
    (project_dir / "upload").mkdir(parents=True)
    (project_dir / "upload" / "x.png").write_bytes(PNG)
    expected = str(project_dir / "upload" / "x.png")
    assert get_local_path("/data/upload/x.png", project_dir=str(project_dir)) == expected
    assert get_local_path("upload/x.png", project_dir=str(project_dir)) == expected
    image_dir = tmp_path / "media-upload"
    (image_dir / "3").mkdir(parents=True)
    (image_dir / "3" / "y.png").write_bytes(PNG)
    assert get_local_path("/upload/3/y.png", image_dir=str(image_dir)) == str(
        image_dir / "3" / "y.png")


def test_upload_found_in_label_studio_media_dir(tmp_path: Path) -> None:
    media = tmp_path / "xdg-data" / "label-studio" / "media" / "upload" / "4"
    media.mkdir(parents=True)
    (media / "z.png").write_bytes(PNG)
    assert get_local_path("/data/upload/4/z.png") == str(media / "z.png")


def test_upload_not_local_and_no_host_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"/data/upload/9/none.png.*LABEL_STUDIO_URL"):
        get_local_path("/data/upload/9/none.png", project_dir=str(tmp_path))


def test_existing_plain_path_is_returned(tmp_path: Path) -> None:
    f = tmp_path / "plain.txt"
    f.write_text("x")
    assert get_local_path(str(f)) == str(f)


# -- get_local_path: downloads from real servers -------------------------------------------

@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None
    body: bytes = b""


@dataclass
class FakeServer:
    url: str = ""
    requires_auth: bool = False  # Label Studio does; the third-party host does not
    redirect_to: str = ""  # where presign redirects
    requests: list[Seen] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [urlsplit(r.path).path for r in self.requests]


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    """A tiny Label Studio: legacy or Bearer auth, token refresh, uploads and presign."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _record(self) -> Seen:
            length = int(self.headers.get("Content-Length") or 0)
            seen = Seen(self.command, self.path, self.headers.get("Authorization"),
                        self.rfile.read(length))
            server.requests.append(seen)
            return seen

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                  length: int | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            seen = self._record()
            if self.path == "/api/token/refresh/" and json.loads(seen.body) == {"refresh": JWT}:
                self._send(200, json.dumps({"access": ACCESS}).encode(),
                           {"Content-Type": "application/json"})
            else:
                self._send(401, b'{"detail": "bad refresh token"}')

        def do_GET(self) -> None:
            seen = self._record()
            path = urlsplit(self.path).path
            if path == "/broken.bin":  # announces 100 bytes, sends 10, hangs up
                self._send(200, b"0123456789", length=100)
                self.close_connection = True
                return
            if path == "/boom":
                self._send(500, b"internal")
                return
            if path.startswith("/missing") or "?d=missing" in self.path:
                self._send(404, b"no")
                return
            if server.requires_auth and seen.authorization not in (
                    f"Token {LEGACY_TOKEN}", f"Bearer {ACCESS}"):
                self._send(401, b"auth required")
                return
            if path.endswith("/presign/"):
                self._send(303, b"", {"Location": f"{server.redirect_to}/bucket/key.png"})
                return
            self._send(200, PNG + path.encode())

    return Handler


def _start(fake: FakeServer) -> ThreadingHTTPServer:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))  # port 0: a free one
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    return httpd


@pytest.fixture(params=["requests", "httpx"])
def servers(request: pytest.FixtureRequest,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeServer, FakeServer]]:
    """(label_studio, third_party); Label Studio's presign redirects to the third party.

    Each download test runs with both transports: requests (used when installed, as
    label-studio-sdk did) and httpx (the fallback)."""
    if request.param == "httpx":
        monkeypatch.setattr(local_files, "_requests", lambda: None)
    else:
        assert local_files._requests() is not None, "requests is a test dependency"
    other = FakeServer()
    other_httpd = _start(other)
    ls = FakeServer(requires_auth=True, redirect_to=other.url)
    ls_httpd = _start(ls)
    yield ls, other
    for httpd in (ls_httpd, other_httpd):
        httpd.shutdown()
        httpd.server_close()


def test_download_with_legacy_token_goes_to_label_studio_only(
        servers: tuple[FakeServer, FakeServer], tmp_path: Path) -> None:
    ls, other = servers
    cache = tmp_path / "cache"
    path = get_local_path("/data/upload/1/pic.png", cache_dir=str(cache), hostname=ls.url,
                          access_token=LEGACY_TOKEN)
    assert Path(path).read_bytes() == PNG + b"/data/upload/1/pic.png"
    url = ls.url + "/data/upload/1/pic.png"
    assert Path(path).name == hashlib.md5(url.encode()).hexdigest()[:8] + "__pic.png"
    assert ls.requests[-1].authorization == f"Token {LEGACY_TOKEN}"
    # A third-party URL gets no token, even though one is at hand.
    third = get_local_path(other.url + "/img/cat.jpg", cache_dir=str(cache),
                           hostname=ls.url, access_token=LEGACY_TOKEN)
    assert Path(third).read_bytes() == PNG + b"/img/cat.jpg"
    assert other.requests[-1].authorization is None
    # An absolute URL on Label Studio's own origin does get it.
    get_local_path(ls.url + "/data/upload/1/other.png", cache_dir=str(cache),
                   hostname=ls.url + "/", access_token=LEGACY_TOKEN)
    assert ls.requests[-1].authorization == f"Token {LEGACY_TOKEN}"


def test_download_with_personal_access_token_refreshes_to_bearer(
        servers: tuple[FakeServer, FakeServer], tmp_path: Path) -> None:
    ls, _ = servers
    path = get_local_path("/data/upload/2/p.png", cache_dir=str(tmp_path), hostname=ls.url,
                          access_token=JWT)
    assert Path(path).read_bytes().startswith(PNG)
    assert [(r.method, urlsplit(r.path).path) for r in ls.requests] == [
        ("POST", "/api/token/refresh/"), ("GET", "/data/upload/2/p.png")]
    assert ls.requests[-1].authorization == f"Bearer {ACCESS}"


def test_cached_file_is_reused_without_a_request(
        servers: tuple[FakeServer, FakeServer], tmp_path: Path) -> None:
    ls, _ = servers
    kwargs: dict[str, Any] = {"cache_dir": str(tmp_path), "hostname": ls.url,
                              "access_token": LEGACY_TOKEN}
    first = get_local_path("/data/upload/1/a.png", **kwargs)
    count = len(ls.requests)
    assert get_local_path("/data/upload/1/a.png", **kwargs) == first
    assert len(ls.requests) == count
    # download_resources=False names the cache file without fetching it
    lazy = get_local_path("/data/upload/1/b.png", download_resources=False, **kwargs)
    assert not Path(lazy).exists() and len(ls.requests) == count
    # a very long name keeps its tail (and extension) within file-name limits
    long_name = get_local_path("/data/upload/1/" + "n" * 400 + ".png",
                               download_resources=False, **kwargs)
    assert Path(long_name).name.endswith("nnn.png") and len(Path(long_name).name) == 130


def test_env_supplies_host_and_token(servers: tuple[FakeServer, FakeServer], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ls, _ = servers
    monkeypatch.setenv("LABEL_STUDIO_HOST", ls.url)
    monkeypatch.setenv("LABEL_STUDIO_ACCESS_TOKEN", LEGACY_TOKEN)
    get_local_path("/data/upload/5/e.png", cache_dir=str(tmp_path))
    assert ls.requests[-1].authorization == f"Token {LEGACY_TOKEN}"
    # LABEL_STUDIO_URL wins over LABEL_STUDIO_HOST, LABEL_STUDIO_API_KEY over ACCESS_TOKEN
    monkeypatch.setenv("LABEL_STUDIO_URL", ls.url)
    monkeypatch.setenv("LABEL_STUDIO_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", JWT)
    get_local_path("/data/upload/5/f.png", cache_dir=str(tmp_path))
    assert ls.requests[-1].authorization == f"Bearer {ACCESS}"


def test_cloud_uri_goes_through_presign_and_the_token_stays_home(
        servers: tuple[FakeServer, FakeServer], tmp_path: Path) -> None:
    ls, other = servers
    uri = "s3://bucket/dir/key.png"
    path = get_local_path(uri, cache_dir=str(tmp_path), hostname=ls.url,
                          access_token=LEGACY_TOKEN, task_id=42)
    presign = ls.requests[-1]
    assert urlsplit(presign.path).path == "/tasks/42/presign/"
    fileuri = parse_qs(urlsplit(presign.path).query)["fileuri"][0]
    assert base64.urlsafe_b64decode(fileuri).decode() == uri
    assert presign.authorization == f"Token {LEGACY_TOKEN}"
    # followed the 303 to the bucket, without the Authorization header
    assert other.paths() == ["/bucket/key.png"]
    assert other.requests[-1].authorization is None
    assert Path(path).read_bytes() == PNG + b"/bucket/key.png"
    assert Path(path).name.endswith("__key.png")


def test_cloud_uri_without_task_id_is_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="task_id"):
        get_local_path("gs://b/k.jpg", cache_dir=str(tmp_path), hostname="http://ls")


def test_download_errors_name_the_url(servers: tuple[FakeServer, FakeServer],
                                      tmp_path: Path) -> None:
    ls, other = servers
    with pytest.raises(FileNotFoundError, match=r"/missing/x\.png.*404"):
        get_local_path(other.url + "/missing/x.png", cache_dir=str(tmp_path))
    with pytest.raises(LabelStudioError, match=r"/boom.*500"):
        get_local_path(other.url + "/boom", cache_dir=str(tmp_path))
    with pytest.raises(LabelStudioError, match=r"/data/upload/1/q\.png.*401.*no token"):
        get_local_path("/data/upload/1/q.png", cache_dir=str(tmp_path), hostname=ls.url)
    with pytest.raises(LabelStudioError, match="refresh"):
        get_local_path("/data/upload/1/q.png", cache_dir=str(tmp_path), hostname=ls.url,
                       access_token="wrong.jwt.token")
    # a refused connection: a closed port
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    dead = f"http://127.0.0.1:{closed.server_address[1]}/x.png"
    closed.server_close()
    with pytest.raises(LabelStudioError, match=r"127\.0\.0\.1.*x\.png"):
        get_local_path(dead, cache_dir=str(tmp_path))


def test_truncated_download_leaves_no_cache_file(servers: tuple[FakeServer, FakeServer],
                                                 tmp_path: Path) -> None:
    _, other = servers
    cache = tmp_path / "c"
    with pytest.raises(LabelStudioError, match=r"broken\.bin"):
        get_local_path(other.url + "/broken.bin", cache_dir=str(cache))
    assert list(cache.iterdir()) == []


# -- task helpers -----------------------------------------------------------------------

def test_get_single_tag_keys_happy_path() -> None:
    assert get_single_tag_keys(parse_config(TEXT_CHOICES), "Choices", "Text") == (
        "sentiment", "text", "review", ["P", "Negative"])


@pytest.mark.parametrize("config, control, obj, needle", [
    (TEXT_CHOICES, "Labels", "Text", "Labels"),
    (TEXT_CHOICES, "Choices", "Image", "Image"),
    ('<View><Text name="t" value="$t"/><Choices name="a" toName="t"/>'
     '<Choices name="b" toName="t"/></View>', "Choices", "Text", "exactly one control"),
    ('<View><Text name="t" value="$t"/><Text name="u" value="$u"/>'
     '<Choices name="a" toName="t,u"/></View>', "Choices", "Text", "exactly one object"),
    ("", "Choices", "Text", "found 0"),
])
def test_get_single_tag_keys_refuses_with_assertion_error(
        config: str, control: str, obj: str, needle: str) -> None:
    with pytest.raises(AssertionError, match=needle):
        get_single_tag_keys(parse_config(config), control, obj)


def test_get_first_tag_keys() -> None:
    cfg = parse_config('<View><Image name="i" value="$i"/><Text name="t" value="$t"/>'
                       '<Choices name="a" toName="i"/><Choices name="b" toName="t"/></View>')
    name, info = get_first_tag_keys(cfg, "Choices", "Text")
    assert name == "b" and info is not None and info["inputs"][0]["value"] == "t"
    assert get_first_tag_keys(cfg, "Labels", "Text") == (None, None)


def test_is_skipped_and_get_choice_for_both_keys() -> None:
    ann = {"result": [{"value": {"choices": ["Neg", "Pos"]}}], "was_cancelled": False}
    new = {"annotations": [ann]}
    old = {"completions": [{**ann, "skipped": True}]}
    assert get_choice(new) == "Neg" and get_choice_completions(old) == "Neg"
    assert get_choice(old, key="completions") == "Neg"
    assert is_skipped(new) is False
    assert is_skipped_completions(old) is True
    assert is_skipped({"annotations": [{**ann, "was_cancelled": True}]}) is True
    # several annotations: never "skipped"
    assert is_skipped({"annotations": [{"was_cancelled": True}, ann]}) is False
    with pytest.raises(KeyError):
        is_skipped(new, key="completions")


def test_get_image_local_path_gen1_positional_and_docker_hostname(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "upload").mkdir()
    (tmp_path / "upload" / "i.png").write_bytes(PNG)
    assert get_image_local_path("/data/upload/i.png", None, str(tmp_path)) == str(
        tmp_path / "upload" / "i.png")
    # Docker's HOSTNAME is a container id, not Label Studio's URL: ignored, not a crash.
    monkeypatch.setenv("HOSTNAME", "3f2a9c0d1e2b")
    with pytest.raises(FileNotFoundError, match="no Label Studio URL"):
        get_image_local_path("/data/upload/7/none.png", str(tmp_path / "c"))


def test_get_image_size_applies_exif_orientation(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    plain, rotated = tmp_path / "plain.jpg", tmp_path / "rotated.jpg"
    image.new("RGB", (40, 10)).save(plain)
    exif = image.Exif()
    exif[0x0112] = 6  # "rotate 90° CW to display"
    image.new("RGB", (40, 10)).save(rotated, exif=exif)
    assert get_image_size(str(plain)) == (40, 10)
    assert get_image_size(str(rotated)) == (10, 40)


def test_get_image_size_without_pillow_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(ImportError, match="pip install pillow"):
        get_image_size("whatever.png")


def test_json_load_int_keys(tmp_path: Path) -> None:
    f = tmp_path / "labels.json"
    f.write_text(json.dumps({"0": "猫", "1": "dog"}), encoding="utf-8")
    assert json_load(str(f)) == {"0": "猫", "1": "dog"}
    assert json_load(f, int_keys=True) == {0: "猫", 1: "dog"}


def test_lru_cache_evicts_least_recently_used() -> None:
    cache = InMemoryLRUDictCache(capacity=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the oldest
    cache.put("c", 3)
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.get("missing") is None


def test_match_labels_and_urls(tmp_path: Path) -> None:
    assert match_labels("Posittive\n\n  neutral \n", ["Positive", "Negative", "Neutral"]) == [
        "Positive", "Neutral"]
    assert match_labels("x", []) == []
    assert is_valid_url("https://example.com/a.png")
    assert not is_valid_url("/data/upload/1/a.png") and not is_valid_url("just text")
    existing = tmp_path / "e.txt"
    existing.write_text("x")
    for url in ("upload/1/a.png", "/upload/a.png", "/data/upload/1/a.png",
                "/data/local-files/?d=a.txt", "s3://b/k", "gs://b/k", "azure-blob://c/k",
                "http://h/x", str(existing)):
        assert is_preload_needed(url), url
    for text in ("a sentence, not a file", "", "x" * 5000, "/no/such/file.txt"):
        assert not is_preload_needed(text), text[:20]
    assert not is_preload_needed(None)


def test_compare_nested_structures() -> None:
    compare_nested_structures({"a": [1.0, {"b": 0.123456}]}, {"a": [1.0, {"b": 0.1234567}]})
    with pytest.raises(AssertionError, match=r"\.a\[1\]\.b"):
        compare_nested_structures({"a": [1.0, {"b": 0.5}]}, {"a": [1.0, {"b": 0.6}]})
    with pytest.raises(AssertionError, match="keys"):
        compare_nested_structures({"a": 1}, {"b": 1})
    with pytest.raises(AssertionError, match="length"):
        compare_nested_structures([1], [1, 2])


# -- ModelResponse ----------------------------------------------------------------------

REGION = {"from_name": "c", "to_name": "t", "type": "choices", "value": {"choices": ["P"]}}


def test_model_response_coerces_dicts_and_drops_extra_keys() -> None:
    r = ModelResponse(predictions=[{"result": [REGION], "id": 5, "extra": 1}])
    assert r.model_dump() == {"model_version": None, "predictions": [
        {"model_version": None, "score": 0.0, "result": [REGION]}]}
    assert list(r.model_dump()["predictions"][0]) == ["model_version", "score", "result"]


def test_model_response_versions() -> None:
    r = ModelResponse(predictions=[{"result": []}, {"result": [], "model_version": "own"}])
    assert not r.has_model_version()
    r.set_version("v3")
    assert r.has_model_version()
    assert [p["model_version"] for p in r.model_dump()["predictions"]] == ["v3", "own"]
    r2 = ModelResponse(model_version="v1", predictions=[{"result": []}])
    assert r2.model_dump()["predictions"][0]["model_version"] is None
    r2.update_predictions_version()
    assert r2.model_dump()["predictions"][0]["model_version"] == "v1"


def test_model_response_keeps_nested_lists() -> None:
    r = ModelResponse(model_version="m", predictions=[
        [{"result": [REGION], "score": 0.9}, {"result": []}], {"result": []}])
    r.update_predictions_version()
    dumped = r.model_dump()["predictions"]
    assert isinstance(dumped[0], list) and len(dumped[0]) == 2
    assert dumped[0][0] == {"model_version": "m", "score": 0.9, "result": [REGION]}
    assert dumped[1]["model_version"] == "m"


@pytest.mark.parametrize("bad", [{}, {"score": 1.0}, {"result": None}, {"result": "x"}])
def test_model_response_without_a_result_list_is_a_validation_error(
        bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="result"):
        ModelResponse(predictions=[bad])


class _Value(BaseModel):
    choices: list[str]


class _Tag:
    def __init__(self, name: str, tag: str) -> None:
        self.name, self.tag = name, tag


class _Region:
    """Shaped like label-studio-sdk's Region: serialised by _dict(), relations apart."""

    def __init__(self, rid: str, relations: list[dict[str, Any]] | None = None) -> None:
        self.id, self.relations = rid, relations or []

    def _dict(self) -> dict[str, Any]:
        return {"id": self.id, "from_name": "c", "to_name": "t", "type": "choices",
                "value": _Value(choices=["P"]).model_dump()}

    def _dict_relations(self) -> list[dict[str, Any]]:
        return [{"from_id": self.id, "to_id": r["to"], "type": "relation",
                 "direction": "right"} for r in self.relations]


class _SdkPrediction(BaseModel):
    """Shaped like label-studio-sdk's PredictionValue (Regions allowed in result)."""

    model_config = {"arbitrary_types_allowed": True, "protected_namespaces": ()}
    model_version: Any = None
    score: float | None = 0.0
    result: list[Any]


class _Version:
    """Like semver.Version: not a str, but has one."""

    def __str__(self) -> str:
        return "0.0.1"


def test_model_response_accepts_sdk_objects_and_regions() -> None:
    a, b = _Region("r1", relations=[{"to": "r2"}]), _Region("r2")
    r = ModelResponse(predictions=[_SdkPrediction(result=[a, b, REGION], score=None,
                                                  model_version=_Version())])
    p = r.model_dump()["predictions"][0]
    assert p["model_version"] == "0.0.1" and p["score"] == 0.0
    assert [x.get("id") for x in p["result"][:3]] == ["r1", "r2", None]
    assert p["result"][-1] == {"from_id": "r1", "to_id": "r2", "type": "relation",
                               "direction": "right"}
    json.dumps(r.model_dump())  # plain data all the way down


def test_normalize_predictions() -> None:
    response = ModelResponse(predictions=[{"result": []}, [{"result": [REGION]}]])
    out = normalize_predictions(response, model_version="cur")
    assert out == [{"model_version": "cur", "score": 0.0, "result": []},
                   [{"model_version": "cur", "score": 0.0, "result": [REGION]}]]
    assert response.model_version is None  # the script's object is left alone
    own = ModelResponse(model_version="own", predictions=[{"result": []}])
    own_out = normalize_predictions(own, model_version="cur")
    assert own_out is not None and own_out[0]["model_version"] == "own"
    assert normalize_predictions({"predictions": [{"result": [], "x": 1}]}) == [
        {"result": [], "x": 1}]
    plain = [{"result": [REGION]}, [_SdkPrediction(result=[_Region("r9")])]]
    normalized = normalize_predictions(plain)
    assert normalized is not None and normalized[0] is plain[0]
    assert normalized[1][0]["result"][0]["id"] == "r9"
    assert normalize_predictions(None) is None
    for bad in ({"results": []}, "text", 3):
        with pytest.raises(ModelError):
            normalize_predictions(bad)


# -- issue 19: local files off this disk, refused tokens, both env spellings ---------------

def test_local_file_not_on_this_disk_is_downloaded_from_label_studio(
        servers: tuple[FakeServer, FakeServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend does not share Label Studio's disk: the file comes from Label Studio."""
    ls, _ = servers
    root = tmp_path / "root"
    (root / "here").mkdir(parents=True)
    (root / "here" / "a.png").write_bytes(PNG)
    monkeypatch.setenv("LOCAL_FILES_DOCUMENT_ROOT", str(root))
    kwargs: dict[str, Any] = {"cache_dir": str(tmp_path / "cache"), "hostname": ls.url,
                              "access_token": LEGACY_TOKEN}
    assert get_local_path("/data/local-files/?d=here/a.png", **kwargs) == str(
        root / "here" / "a.png")  # on the disk: read there, nothing fetched
    assert ls.requests == []
    url = "/data/local-files/?d=" + quote("images/x 1.png")
    path = get_local_path(url, **kwargs)
    assert Path(path).read_bytes().startswith(PNG)
    assert ls.requests[-1].path == url
    assert ls.requests[-1].authorization == f"Token {LEGACY_TOKEN}"
    # Neither works: one message with both reasons.
    with pytest.raises(FileNotFoundError, match=r"local file .*gone\.png does not exist; "
                                                 r"downloading it from Label Studio failed: "
                                                 r".*answered 404"):
        get_local_path("/data/local-files/?d=missing/gone.png", **kwargs)
    with pytest.raises(LabelStudioError, match=r"does not exist; .*answered 401.*legacy token"):
        get_local_path("/data/local-files/?d=images/y.png", cache_dir=str(tmp_path),
                       hostname=ls.url, access_token="not-the-token")
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_HOST", raising=False)
    with pytest.raises(FileNotFoundError, match=r"does not exist; .*no Label Studio URL"):
        get_local_path("/data/local-files/?d=images/z.png", cache_dir=str(tmp_path))


def test_a_refused_token_is_named_with_where_it_came_from(
        servers: tuple[FakeServer, FakeServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ls, _ = servers
    for name in local_files.LABEL_STUDIO_KEY_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(LabelStudioError) as legacy:  # what /setup sent
        get_local_path("/data/upload/1/q.png", cache_dir=str(tmp_path), hostname=ls.url,
                       access_token="f" * 40)
    assert "answered 401" in legacy.value.message
    assert "legacy token that Label Studio sent in /setup" in legacy.value.message
    assert "set LABEL_STUDIO_API_KEY (or LABEL_STUDIO_ACCESS_TOKEN)" in legacy.value.message
    revoked = "eyJhbGciOiJIUzI1NiJ9.eyJyZXZva2VkIjp0cnVlfQ.c2ln"
    monkeypatch.setenv("LABEL_STUDIO_ACCESS_TOKEN", revoked)
    with pytest.raises(LabelStudioError) as pat:  # a personal access token from the env
        get_local_path("/data/upload/1/r.png", cache_dir=str(tmp_path), hostname=ls.url)
    assert "personal access token from LABEL_STUDIO_ACCESS_TOKEN" in pat.value.message
    assert "set LABEL_STUDIO_ACCESS_TOKEN to a valid one" in pat.value.message


def test_both_env_spellings_reach_the_settings_and_win_over_setup(tmp_path: Path) -> None:
    from labelloop.settings import Settings
    from labelloop.store.projects import ProjectInfo, label_studio_address

    examples = Settings.from_env({"LABEL_STUDIO_HOST": "http://ls:8080",
                                  "LABEL_STUDIO_ACCESS_TOKEN": JWT}, backend_dir=tmp_path)
    assert (examples.label_studio_url, examples.label_studio_api_key) == ("http://ls:8080", JWT)
    ours = Settings.from_env({"LABEL_STUDIO_URL": "http://a", "LABEL_STUDIO_HOST": "http://b",
                              "LABEL_STUDIO_API_KEY": "k1", "LABEL_STUDIO_ACCESS_TOKEN": "k2"},
                             backend_dir=tmp_path)
    assert (ours.label_studio_url, ours.label_studio_api_key) == ("http://a", "k1")
    setup = ProjectInfo("<View/>", "http://from-setup", LEGACY_TOKEN)
    assert label_studio_address(examples, setup) == ("http://ls:8080", JWT)
    bare = Settings.from_env({}, backend_dir=tmp_path)
    assert label_studio_address(bare, setup) == ("http://from-setup", LEGACY_TOKEN)
