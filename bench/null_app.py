"""An ASGI app that does nothing but what every /predict must: read the whole body and
answer ``?answer=N`` bytes. Served by uvicorn as labelloop is (uvloop, httptools), it
is the floor of what an HTTP request of that size costs (bench/profile_predict.py).

    python -m uvicorn null_app:app --app-dir bench --port 9999
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

Message = dict[str, Any]


async def app(scope: Message, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    query = parse_qs(scope.get("query_string", b"").decode())
    size = int((query.get("answer") or ["2"])[0])
    body = b"{" + b" " * max(0, size - 2) + b"}"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
