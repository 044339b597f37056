"""The peer: label-studio-ml 1.0.9 from PyPI, serving the word pipeline as its users did.

Its own virtualenv, made by the bench on first use (never by the labelloop package):
``~/.cache/labelloop/bench-peer-lsml-1.0.9`` (``LABELLOOP_BENCH_PEER_VENV`` overrides).
Into it go label-studio-ml 1.0.9 (which pins Flask 1.1.2, Werkzeug 2.0.2, Jinja2 3.0.3
and itsdangerous 2.0.1; those run on Python 3.11 as they are), what the ``requirements.txt``
that ``label-studio-ml init`` writes asks for (gunicorn 20.1.0, rq 1.10.1), redis (its
model.py imports redis and rq without declaring them), and the scikit-learn of this
interpreter (so that both sides unpickle the very same pipeline).

The backend folder is made with ``label-studio-ml init --script word_gen2.py``. It is
started as ``label-studio-ml start`` starts it (``python _wsgi.py``: Flask's threaded
development server, one process, which is what its users ran), or as its Dockerfile does
(``gunicorn --preload --workers 1 --threads 8 _wsgi:app``).

The model directory has 1.0.9's own layout: in its default mode
(``LABEL_STUDIO_ML_BACKEND_V2``, on unless set empty), ``/setup`` serves the newest
``<MODEL_DIR>/<job_id>/job_result.json`` and builds the model with that file's content as
``train_output`` (what ``fit`` returned, as its job manager saves it).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness import MODELS, Server, free_port

VERSION = "1.0.9"
VENV = Path(os.environ.get("LABELLOOP_BENCH_PEER_VENV",
                           Path.home() / ".cache" / "labelloop" / f"bench-peer-lsml-{VERSION}"))
JOB_ID = "1795570947"  # a version folder name, as 1.0.9's job manager makes them (a time)


def requirements() -> list[str]:
    sklearn = importlib.metadata.version("scikit-learn")
    return [f"label-studio-ml=={VERSION}", "gunicorn==20.1.0", "rq==1.10.1", "redis",
            f"scikit-learn=={sklearn}", "markupsafe<3.1"]


def python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv(log: bool = True) -> Path:
    """Create the peer's virtualenv unless it holds exactly :func:`requirements`."""
    marker = VENV / ".bench-installed"
    wanted = "\n".join(requirements())
    if marker.is_file() and marker.read_text() == wanted and python().exists():
        return VENV
    if log:
        print(f"installing the peer (label-studio-ml {VERSION}) into {VENV} ...",
              file=sys.stderr, flush=True)
    if VENV.exists():
        shutil.rmtree(VENV)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *requirements()], check=True)
    marker.write_text(wanted)
    return VENV


def versions() -> str:
    """The peer's web stack, as installed."""
    code = ("import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
            "('label-studio-ml', 'Flask', 'Werkzeug', 'Jinja2', 'MarkupSafe', 'gunicorn', "
            "'scikit-learn')))")
    return subprocess.run([str(python()), "-c", code], check=True, capture_output=True,
                          text=True).stdout.strip()


def init_backend(root: Path, model_path: Path) -> tuple[Path, Path]:
    """``label-studio-ml init`` with the word pipeline's gen-2 script, and a model dir
    whose one job serves ``model_path``. Returns (backend folder, model dir)."""
    script_dir = root / "peer-script"
    script_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MODELS / "word_gen2.py", script_dir / "model.py")
    backend = root / "peer-backend"
    subprocess.run([str(VENV / "bin" / "label-studio-ml"), "init", str(backend.name),
                    "--root-dir", str(root), "--script", str(script_dir / "model.py")],
                   check=True, stdout=subprocess.DEVNULL, cwd=root)
    model_dir = root / "peer-models"
    (model_dir / JOB_ID).mkdir(parents=True, exist_ok=True)
    (model_dir / JOB_ID / "job_result.json").write_text(json.dumps(
        {"model_path": str(model_path), "labels": []}))
    return backend, model_dir


class PeerServer(Server):
    """label-studio-ml 1.0.9 serving a backend folder made by :func:`init_backend`."""

    name = f"label-studio-ml {VERSION}"

    def __init__(self, backend: Path, model_dir: Path, how: str = "flask") -> None:
        port = free_port()
        env = {"MODEL_DIR": str(model_dir), "PATH": f"{VENV / 'bin'}:{os.environ['PATH']}"}
        if how == "flask":  # what `label-studio-ml start` runs: python _wsgi.py
            cmd = [str(python()), "_wsgi.py", "--host", "127.0.0.1", "--port", str(port),
                   "--model-dir", str(model_dir)]
        elif how == "gunicorn":  # its Dockerfile's CMD
            cmd = [str(VENV / "bin" / "gunicorn"), "--preload", "--bind", f"127.0.0.1:{port}",
                   "--workers", "1", "--threads", "8", "--timeout", "0", "_wsgi:app"]
        else:
            raise ValueError(f"unknown peer server {how!r}")
        super().__init__(cmd, port, env, cwd=backend)
