"""Object storage for version folders: ``s3://bucket/prefix`` (and, through fsspec,
``gs://`` and ``az://`` when gcsfs or adlfs is installed).

Keys are ``<project>/<version>/<file>`` under the URL's prefix. Credentials and endpoints
come from each cloud's own environment and config files (for S3: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, profiles...): labelloop adds no names.

Every failure of the medium (unreachable, credentials refused) is a
:class:`~labelloop.errors.StoreUnavailable` that names the storage; a missing key is not
an error (``read`` returns None, ``list`` an empty list).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labelloop.errors import BadRequest, StoreUnavailable

SCHEMES = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}
PING_EVERY_S = 2.0  # /health asks often; the answer may be this old


def is_bucket_url(url: str | None) -> bool:
    """``s3://...``, ``gs://...``, ``az://...``: a bucket; ``file://``, None: the model dir."""
    return bool(url) and url.split("://", 1)[0] in SCHEMES  # type: ignore[union-attr]


def preload(url: str | None) -> None:
    """Import the storage's fsspec implementation now (about a second for s3fs and
    botocore): in a long-lived process, before it forks jobs, so no job pays it again."""
    if is_bucket_url(url):
        with contextlib.suppress(ImportError, ValueError):  # reported on first use
            import fsspec

            fsspec.get_filesystem_class(str(url).split("://", 1)[0])


def _options(scheme: str, timeout_s: float, attempts: int) -> dict[str, Any]:
    """fsspec options: no listing cache (another process may have written since), and for
    S3 short timeouts and few retries, so that an unreachable endpoint fails a job in
    seconds rather than minutes."""
    options: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
    if scheme == "s3":
        options["config_kwargs"] = {"connect_timeout": timeout_s, "read_timeout": timeout_s * 4,
                                    "retries": {"max_attempts": attempts, "mode": "standard"}}
    return options


class Bucket:
    """A folder tree in object storage, reached through fsspec."""

    def __init__(self, url: str) -> None:
        scheme, _, rest = url.partition("://")
        if scheme not in SCHEMES or not rest.strip("/"):
            raise BadRequest(f"storage {url!r}: expected s3://bucket/prefix (or gs://, az://)")
        self.url = url.rstrip("/")
        self.scheme = scheme
        self.root = rest.strip("/")
        self._fs: dict[tuple[int, str], Any] = {}
        self._pinged: tuple[float, bool] = (0.0, True)
        preload(url)

    def _filesystem(self, kind: str = "work") -> Any:
        """One fsspec filesystem per process (a forked fit child makes its own: the
        parent's event loop and connections do not survive a fork)."""
        slot = (os.getpid(), kind)
        if slot not in self._fs:
            try:
                import fsspec
            except ImportError as exc:  # pragma: no cover - depends on the installation
                raise BadRequest(f"storage {self.url}: install labelloop[s3] "
                                 f"(or {SCHEMES[self.scheme]})") from exc
            timeout, attempts = (0.5, 1) if kind == "ping" else (3.0, 3)
            try:
                self._fs[slot] = fsspec.filesystem(self.scheme,
                                                   **_options(self.scheme, timeout, attempts))
            except ImportError as exc:
                raise BadRequest(f"storage {self.url}: install {SCHEMES[self.scheme]} "
                                 f"({exc})") from exc
        return self._fs[slot]

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError:
            raise
        except PermissionError as exc:  # S3's AccessDenied, InvalidAccessKeyId...
            raise StoreUnavailable(f"storage {self.url} refused the credentials: "
                                   f"{exc}") from exc
        except Exception as exc:  # each fsspec backend raises its own types
            raise StoreUnavailable(f"storage {self.url} is unreachable: "
                                   f"{type(exc).__name__}: {exc}") from exc

    def _key(self, key: str) -> str:
        return f"{self.root}/{key}".rstrip("/")

    def names(self, prefix: str = "") -> list[str]:
        """The names right under ``prefix`` (files and folders)."""
        with self._guard():
            try:
                entries = self._filesystem().ls(self._key(prefix), detail=False)
            except FileNotFoundError:
                return []
        return sorted({str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries})

    def read(self, key: str) -> bytes | None:
        with self._guard():
            try:
                return bytes(self._filesystem().cat_file(self._key(key)))
            except FileNotFoundError:
                return None

    def write(self, key: str, data: bytes) -> None:
        with self._guard():
            self._filesystem().pipe_file(self._key(key), data)

    def upload(self, folder: Path, prefix: str, last: str) -> None:
        """Every file under ``folder`` to ``prefix``, the file named ``last`` after all
        others: whoever sees ``last`` sees a complete folder."""
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        first = [p for p in files if p.relative_to(folder).as_posix() != last]
        with self._guard():
            fs = self._filesystem()
            if first:
                fs.put([str(p) for p in first],
                       [self._key(f"{prefix}/{p.relative_to(folder).as_posix()}")
                        for p in first])
            if (folder / last).is_file():
                fs.put_file(str(folder / last), self._key(f"{prefix}/{last}"))

    def download(self, prefix: str, folder: Path) -> list[str]:
        """Every file under ``prefix`` into ``folder``; the relative names fetched."""
        with self._guard():
            fs = self._filesystem()
            base = self._key(prefix)
            try:
                remote = [str(k) for k in fs.find(base)]
            except FileNotFoundError:
                return []
            names = [k[len(base) + 1:] for k in remote]
            local = [folder / n for n in names]
            for path in local:
                path.parent.mkdir(parents=True, exist_ok=True)
            if remote:
                fs.get(remote, [str(p) for p in local])
        return names

    def delete(self, prefix: str, first: str | None = None) -> None:
        """Remove everything under ``prefix``; ``first`` goes before the rest (the marker
        that makes the folder complete, so nobody loads a half-deleted one)."""
        with self._guard():
            fs = self._filesystem()
            if first is not None:
                with contextlib.suppress(FileNotFoundError):
                    fs.rm_file(self._key(f"{prefix}/{first}"))
            with contextlib.suppress(FileNotFoundError):
                fs.rm(self._key(prefix), recursive=True)

    def ping(self) -> bool:
        """Does the storage answer (with a short timeout; the answer kept 2 s)?"""
        at, answer = self._pinged
        if time.monotonic() - at < PING_EVERY_S:
            return answer
        try:
            self._filesystem("ping").ls(self.root.split("/", 1)[0], detail=False)
            answer = True
        except Exception:  # unreachable, refused, no such bucket: all say "not usable"
            answer = False
        self._pinged = (time.monotonic(), answer)
        return answer
