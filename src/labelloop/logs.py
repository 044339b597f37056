"""One log format for every labelloop process: server, local runner, RQ worker.

``text`` is for people; ``json`` writes one JSON object per line for log shippers, with
the structured fields a record carries (``extra={"job": {...}}``: training jobs' start and
end, with project, version, duration and metrics):

>>> import io
>>> handler = logging.StreamHandler(stream := io.StringIO())
>>> handler.setFormatter(JsonFormatter())
>>> log = logging.getLogger("labelloop.doctest")
>>> log.addHandler(handler); log.propagate = False
>>> log.warning("job %s done", "abc")
>>> sorted(json.loads(stream.getvalue()))
['level', 'logger', 'message', 'time']
"""

from __future__ import annotations

import json
import logging
import time

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STRUCTURED = ("job",)  # the extra= fields labelloop logs: shipped as fields of their own


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in STRUCTURED:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
