"""Task-data URLs to local files, as the three ``LabelStudioMLBase`` generations did it.

:func:`get_local_path` is one function covering what Label Studio 0.9's
``label_studio.ml.utils.get_local_path``, label-studio-tools' and label-studio-sdk's
versions accepted, in this order:

1. Local storage: ``/data/local-files/?d=<rel>`` (under ``LOCAL_FILES_DOCUMENT_ROOT``)
   and Label Studio 0.x's ``/data/<file>?d=<dir>``: the local path when the file is on
   this disk, else downloaded from Label Studio (which serves it from its own disk), as
   label-studio-sdk does; a message naming both failures when neither works.
2. Uploads (``upload/…``, ``/upload/…`` and ``/data/upload/…``): ``image_dir/<project>/<file>``,
   ``project_dir/upload/<file>`` or Label Studio's own media folder, when the file is there.
3. Anything else is downloaded once into the cache (``<md5[:8]>__<name>``): relative paths
   and ``s3:``/``gs:``/``azure-blob:`` URIs (through the task's presign endpoint) from
   Label Studio, http(s) URLs from wherever they point.

The Label Studio token goes only to Label Studio's own origin, never to a third-party URL
(upstream label-studio-tools sent it to any host). Both a legacy token and a personal
access token work: the latter is exchanged for a short-lived ``Bearer`` token by
:class:`labelloop.sdk.label_studio.LabelStudioClient`.

>>> get_env("SURELY_UNSET_VARIABLE", default="x")
'x'
>>> cast_bool_from_str("Yes"), cast_bool_from_str("off")
(True, False)
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urlsplit

import httpx

from labelloop.errors import LabelStudioError
from labelloop.sdk.label_studio import LabelStudioClient, looks_like_jwt, same_origin
from labelloop.settings import LABEL_STUDIO_KEY_ENV

APP_NAME = "label-studio"
DOWNLOAD_TIMEOUT = 60.0
CLOUD_SCHEMES = ("s3", "gs", "azure-blob")
MAX_NAME_CHARS = 120
CHUNK_BYTES = 64 * 1024
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "not", "off", "0"})


# -- environment ------------------------------------------------------------------------

def cast_bool_from_str(value: str) -> bool:
    """``true/yes/on/1`` → True, ``false/no/not/off/0`` → False (any case); else ValueError."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a boolean (use true/yes/on/1 or false/no/not/off/0)")


def get_env(name: str, default: Any = None, is_bool: bool = False) -> Any:
    """The first of ``LABEL_STUDIO_<name>``, ``HEARTEX_<name>``, ``<name>`` that is set.

    With ``is_bool`` the value is parsed by :func:`cast_bool_from_str`. ``default`` is
    returned unchanged when none of the three is set.
    """
    for key in (f"LABEL_STUDIO_{name}", f"HEARTEX_{name}", name):
        value = os.environ.get(key)
        if value is None:
            continue
        if not is_bool:
            return value
        try:
            return cast_bool_from_str(value)
        except ValueError as exc:
            raise ValueError(f"environment variable {key}: {exc}") from exc
    return default


def get_bool_env(key: str, default: bool) -> bool:
    """:func:`get_env` with ``is_bool``; a missing variable gives ``bool(default)``."""
    return bool(get_env(key, default, is_bool=True))


def bool_from_request(params: dict[str, Any], key: str, default: Any) -> bool:
    """``params[key]`` (or ``default``) as a bool; strings go through cast_bool_from_str."""
    value = params.get(key, default)
    return cast_bool_from_str(value) if isinstance(value, str) else bool(value)


# -- user directories -------------------------------------------------------------------

def _user_dir(kind: str) -> Path:
    """The per-user ``cache`` or ``data`` directory for Label Studio, as appdirs laid it out.

    Written out here rather than depending on appdirs: three platforms, a few lines each.
    """
    home = Path.home()
    if sys.platform == "darwin":
        folder = "Caches" if kind == "cache" else "Application Support"
        return home / "Library" / folder / APP_NAME
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
        folder = base / APP_NAME / APP_NAME  # appdirs repeats the name as the "author"
        return folder / "Cache" if kind == "cache" else folder
    variable, fallback = (("XDG_CACHE_HOME", home / ".cache") if kind == "cache"
                          else ("XDG_DATA_HOME", home / ".local" / "share"))
    xdg = os.environ.get(variable, "")
    # The XDG spec says relative values are invalid and must be ignored.
    return (Path(xdg) if xdg and Path(xdg).is_absolute() else fallback) / APP_NAME


def get_cache_dir() -> str:
    """``~/.cache/label-studio`` on Linux (honouring XDG_CACHE_HOME), created if missing."""
    path = _user_dir("cache")
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def get_data_dir() -> str:
    """``~/.local/share/label-studio`` on Linux (honouring XDG_DATA_HOME), created if missing."""
    path = _user_dir("data")
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


# -- get_local_path ---------------------------------------------------------------------

def get_local_path(url: str, cache_dir: str | None = None, project_dir: str | None = None,
                   hostname: str | None = None, image_dir: str | None = None,
                   access_token: str | None = None, download_resources: bool = True,
                   task_id: int | str | None = None, *,
                   timeout: float = DOWNLOAD_TIMEOUT) -> str:
    """A local path for the task-data ``url``, downloading it into the cache if needed.

    ``hostname`` (else env ``LABEL_STUDIO_URL``, then ``LABEL_STUDIO_HOST``) is Label
    Studio's URL; ``access_token`` (else env ``LABEL_STUDIO_API_KEY``, then
    ``LABEL_STUDIO_ACCESS_TOKEN``) its token. With ``download_resources=False`` the cache
    path is returned without fetching anything. Raises :class:`FileNotFoundError` when the
    file cannot be found or Label Studio answers 404, :class:`ValueError` for a cloud URI
    without ``task_id``, and :class:`labelloop.errors.LabelStudioError` for any other
    failed download; each message names the URL.
    """
    url = _normalise_upload(url)
    try:
        local = _local_storage_path(url)
    except FileNotFoundError as missing:  # not on this disk: Label Studio serves it too
        return _from_label_studio(url, missing, cache_dir, hostname, access_token,
                                  download_resources, task_id, timeout)
    if local is not None:
        return local
    return _found_or_fetched(url, cache_dir, project_dir, hostname, image_dir, access_token,
                             download_resources, task_id, timeout)


def _from_label_studio(url: str, missing: FileNotFoundError, cache_dir: str | None,
                       hostname: str | None, access_token: str | None,
                       download_resources: bool, task_id: int | str | None,
                       timeout: float) -> str:
    """A local-files URL whose file is not on this disk, downloaded from Label Studio
    (which reads it from its own disk); both failures in one message when that fails."""
    try:
        return _found_or_fetched(url, cache_dir, None, hostname, None, access_token,
                                 download_resources, task_id, timeout)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{missing}; {_detail(exc, url)}") from exc
    except LabelStudioError as exc:
        raise LabelStudioError(f"{missing}; {_detail(exc, url)}") from exc


def _detail(exc: Exception, url: str) -> str:
    text = exc.message if isinstance(exc, LabelStudioError) else str(exc)
    return "downloading it from Label Studio failed: " + text.removeprefix(f"{url}: ")


def _found_or_fetched(url: str, cache_dir: str | None, project_dir: str | None,
                      hostname: str | None, image_dir: str | None, access_token: str | None,
                      download_resources: bool, task_id: int | str | None,
                      timeout: float) -> str:
    if url.startswith("/data/upload/"):
        found = _find_upload(url, project_dir, image_dir)
        if found is not None:
            return found
    elif not _has_scheme(url) and _exists(Path(url), file_only=True):
        return url  # already a local file (is_preload_needed lets such paths through)
    host = _label_studio_url(hostname)
    remote = _remote(url, host, task_id)
    target = Path(cache_dir) if cache_dir else Path(get_cache_dir())
    target.mkdir(parents=True, exist_ok=True)
    dest = target / f"{_short_hash(remote.cache_key)}__{remote.name}"
    if dest.exists() or not download_resources:
        return str(dest)
    token = access_token or next(
        (os.environ[n] for n in LABEL_STUDIO_KEY_ENV if os.environ.get(n)), None)
    _download(remote, dest, host, token if remote.to_label_studio else None, timeout)
    return str(dest)


def _normalise_upload(url: str) -> str:
    """``upload/…`` and ``/upload/…`` (how some exports spell uploads) → ``/data/upload/…``."""
    if url.startswith("upload/"):
        return "/data/" + url
    if url.startswith("/upload/"):
        return "/data" + url
    return url


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as exc:  # e.g. "http://[oops": an unbalanced IPv6 bracket
        raise ValueError(f"{url}: not a valid URL ({exc})") from exc


def _has_scheme(url: str) -> bool:
    # A one-letter "scheme" is a Windows drive (C:\...), not a URL.
    return len(_split(url).scheme) > 1


def _local_storage_path(url: str) -> str | None:
    """Resolve a Local Storage URL; None when ``url`` is not one."""
    if not url.startswith("/data/") or "?d=" not in url:
        return None
    head, _, encoded = url[len("/data/"):].partition("?d=")
    rel = Path(unquote(encoded))
    if head.strip("/") == "local-files":  # Label Studio 1.x: ?d= is relative to the root
        root = Path(str(get_env("LOCAL_FILES_DOCUMENT_ROOT", default="/")))
        path = root / rel  # an absolute ?d= stays absolute, as upstream's os.path.join did
        if not _inside(root, path):
            raise FileNotFoundError(f"{url} points outside LOCAL_FILES_DOCUMENT_ROOT ({root})")
    else:  # Label Studio 0.x: /data/<file>?d=<directory>
        path = rel / head
    if not _exists(path):
        raise FileNotFoundError(f"{url}: local file {path} does not exist")
    return str(path)


def _exists(path: Path, file_only: bool = False) -> bool:
    """Like Path.exists/is_file, but False (not OSError) for names the OS rejects,
    e.g. a long text that ``is_preload_needed`` probed as a possible path."""
    try:
        return path.is_file() if file_only else path.exists()
    except (OSError, ValueError):
        return False


def _inside(root: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _upload_dirs(project_dir: str | None, image_dir: str | None) -> Iterator[Path]:
    """Where an upload may already be on disk, most specific first."""
    if image_dir:
        yield Path(image_dir)
    if project_dir:
        yield Path(project_dir) / "upload"  # Label Studio 0.x project layout
    base = get_env("BASE_DATA_DIR")
    yield (Path(base) if base else _user_dir("data")) / "media" / "upload"  # LS 1.x here


def _find_upload(url: str, project_dir: str | None, image_dir: str | None) -> str | None:
    rel = Path(unquote(url[len("/data/upload/"):]))  # "<project>/<file>" (1.x), "<file>" (0.x)
    for base in _upload_dirs(project_dir, image_dir):
        for candidate in (base / rel, base / rel.name):
            if _inside(base, candidate) and _exists(candidate, file_only=True):
                return str(candidate)
    return None


def _label_studio_url(hostname: str | None) -> str | None:
    host = (hostname or os.environ.get("LABEL_STUDIO_URL")
            or os.environ.get("LABEL_STUDIO_HOST") or None)
    return host.rstrip("/") if host else None


@dataclass(frozen=True)
class _Remote:
    url: str  # what is fetched
    cache_key: str  # what the cache file is named after
    name: str  # the cache file's readable suffix
    to_label_studio: bool  # whether the token may be sent


def _remote(url: str, host: str | None, task_id: int | str | None) -> _Remote:
    parts = _split(url)
    scheme = parts.scheme.lower()
    # The tail of the name keeps its extension and stays under file-name length limits.
    name = parts.path.rsplit("/", 1)[-1][-MAX_NAME_CHARS:]
    if scheme in CLOUD_SCHEMES:
        if task_id is None:
            raise ValueError(f"{url}: a cloud storage URI needs task_id to be presigned")
        ls = _require_host(url, host)
        fileuri = base64.urlsafe_b64encode(url.encode()).decode()
        presign = f"{ls}/tasks/{task_id}/presign/?fileuri={quote(fileuri)}"
        return _Remote(presign, url, name, to_label_studio=True)
    if scheme in ("http", "https"):
        return _Remote(url, url, name, to_label_studio=host is not None and same_origin(url, host))
    if url.startswith("/"):  # a path on the Label Studio server, e.g. /data/upload/3/x.png
        full = _require_host(url, host) + url
        return _Remote(full, full, name, to_label_studio=True)
    raise FileNotFoundError(f"{url}: no such local file, and not a URL that can be downloaded")


def _require_host(url: str, host: str | None) -> str:
    if host is None:
        raise FileNotFoundError(
            f"{url}: not found locally, and no Label Studio URL is known to fetch it from "
            "(pass hostname or set LABEL_STUDIO_URL)")
    # Checked only here, where it is used: a bad value must not break URLs that never
    # needed Label Studio.
    if not host.startswith(("http://", "https://")):
        raise ValueError(f"the Label Studio URL {host!r} must start with http:// or https://")
    return host


def _short_hash(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:8]


def _requests() -> Any:
    """The ``requests`` module when it is installed, else None.

    label-studio-sdk downloads task data with requests, so the tests of scripts written
    for it fake downloads with ``responses``, which patches requests only: when requests
    is there, files are fetched with it, else with httpx.
    """
    try:
        return importlib.import_module("requests")
    except ImportError:
        return None


def _download(remote: _Remote, dest: Path, host: str | None, token: str | None,
              timeout: float) -> None:
    try:
        # Redirects are followed (presign answers 303 to the storage). httpx and requests
        # both drop the Authorization header when a redirect leaves the origin (requests:
        # when host, port or scheme change), so the token stays home.
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            headers = _auth_headers(remote, client, host, token, timeout)
            requests = _requests()
            if requests is not None:
                _fetch_with_requests(requests, remote, dest, headers, timeout, token)
                return
            with client.stream("GET", remote.url, headers=headers) as resp:
                _check_download(resp.status_code, remote, token if headers else None)
                _write_atomically(resp.iter_bytes(), dest)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise LabelStudioError(
            f"cannot download {remote.url}: {type(exc).__name__}: {exc}") from exc


def _fetch_with_requests(requests: Any, remote: _Remote, dest: Path,
                         headers: dict[str, str], timeout: float, token: str | None) -> None:
    try:
        with requests.get(remote.url, headers=headers, stream=True, timeout=timeout,
                          allow_redirects=True) as resp:
            _check_download(resp.status_code, remote, token if headers else None)
            _write_atomically(resp.iter_content(chunk_size=CHUNK_BYTES), dest)
    except requests.RequestException as exc:
        raise LabelStudioError(
            f"cannot download {remote.url}: {type(exc).__name__}: {exc}") from exc


def _auth_headers(remote: _Remote, client: httpx.Client, host: str | None,
                  token: str | None, timeout: float) -> dict[str, str]:
    if not (token and host):
        return {}
    try:
        return LabelStudioClient(host, token, timeout).auth_headers(client)
    except LabelStudioError as exc:
        refused = "answered 401" in exc.message or "answered 403" in exc.message
        advice = f"; {token_advice(token)}" if refused else ""
        raise LabelStudioError(f"cannot download {remote.url}: {exc.message}{advice}") from exc
    except (KeyError, ValueError) as exc:  # a refresh answer without a JSON "access" key
        raise LabelStudioError(
            f"cannot download {remote.url}: unexpected answer refreshing the personal "
            f"access token ({type(exc).__name__})") from exc


def _check_download(status: int, remote: _Remote, token: str | None) -> None:
    if status < 400:
        return
    if status in (404, 410):
        raise FileNotFoundError(f"{remote.url}: the server answered {status}")
    hint = ""
    if status in (401, 403) and remote.to_label_studio:
        hint = (f": {token_advice(token)}" if token else
                ": no token was sent; set LABEL_STUDIO_API_KEY (or LABEL_STUDIO_ACCESS_TOKEN)"
                " to a personal access token of Label Studio")
    raise LabelStudioError(f"cannot download {remote.url}: the server answered {status}{hint}")


def token_origin(token: str) -> str | None:
    """The environment variable that holds ``token``; None: it came from /setup."""
    return next((n for n in LABEL_STUDIO_KEY_ENV if os.environ.get(n) == token), None)


def token_advice(token: str) -> str:
    """Which token Label Studio refused (its kind, where it came from) and what to set.

    >>> print(token_advice("0" * 40))  # doctest: +ELLIPSIS
    Label Studio refused the legacy token that Label Studio sent in /setup ...
    """
    origin = token_origin(token)
    where = f"from {origin}" if origin else "that Label Studio sent in /setup"
    if looks_like_jwt(token):
        return (f"Label Studio refused the personal access token {where} (revoked, or of "
                f"another Label Studio?): set {origin or 'LABEL_STUDIO_API_KEY'} to a valid "
                "one (Label Studio: Account & Settings, Personal Access Token)")
    return (f"Label Studio refused the legacy token {where} (the project creator's, unless "
            "set; Label Studio 1.23 refuses legacy tokens unless the organisation enables "
            "them): set LABEL_STUDIO_API_KEY (or LABEL_STUDIO_ACCESS_TOKEN) to a personal "
            "access token (Account & Settings, Personal Access Token), or enable legacy "
            "tokens (Organization, API Tokens Settings)")


def _write_atomically(chunks: Iterable[bytes], dest: Path) -> None:
    """Write to a temporary file beside ``dest``, then rename it into place.

    A half-written file must never sit under the cache name: the next call would
    take it as a finished download.
    """
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".download-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        Path(tmp).replace(dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
