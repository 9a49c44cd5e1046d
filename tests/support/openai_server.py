"""A real HTTP server on 127.0.0.1 that speaks the chat-completions protocol, for tests and benchmarks.

Deterministic replies (an echo by default, or a scripted ``reply`` function), a fixed latency, a
bound on requests processed at once (so that the ideal throughput is ``concurrency / latency``), and
injectable faults at the HTTP level: 429 with ``Retry-After``, 500, 400, hangs past the client's
timeout, malformed JSON bodies, truncated bodies, dropped connections, and replies whose content is not
what the prompt asked for. Every request is logged with its arrival time, so tests assert on what the
server saw (counts, gaps, windows) rather than on how fast the test machine is.

Stdlib only (asyncio streams), HTTP/1.1 with keep-alive. Two ways to run it:

* in-process: ``with OpenAITestServer(reply=...) as server: server.url`` (a loop on a thread);
* as a process, for benchmarks where the client must not share a GIL with it:
  ``python -m tests.support.openai_server --latency 0.5 --concurrency 256`` (it prints ``URL <url>``;
  ``benchmarks/openai_process.py`` starts and stops it).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Self

from tests.support.openai_faults import (  # noqa: F401 - re-exported: tests import them from here
    BAD_REQUEST,
    DROP,
    FAULT_KINDS,
    GARBLED_REPLY,
    GARBLED_TEXT,
    MALFORMED_JSON,
    RATE_LIMIT,
    SERVER_ERROR,
    TIMEOUT,
    TRANSIENT_FAULTS,
    TRUNCATED,
    UNAUTHORIZED,
    FaultFunction,
    ReceivedRequest,
    ReplyFunction,
    always,
    count_tokens,
    echo_reply,
    fail_first,
    fault_fraction,
)


@dataclass
class ServerSettings:
    """What the server does; all fields may be changed between tests (``server.settings``)."""

    latency: float = 0.0
    concurrency: int | None = None
    reply: ReplyFunction = echo_reply
    faults: FaultFunction | None = None
    retry_after: float = 1.0
    hang_s: float = 30.0
    model: str = "test-model"
    log_bodies: bool = True
    #: When set, every route answers 401 (quoting the key it got, as OpenAI does) unless sent this key.
    api_key: str | None = None


class _Server:
    def __init__(self, settings: ServerSettings):
        self.settings = settings
        self.log: list[ReceivedRequest] = []
        self.faults = Counter()
        self._seen: Counter = Counter()
        self._lock = threading.Lock()
        self._semaphore: asyncio.Semaphore | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                try:
                    method, path, _ = request_line.split(" ", 2)
                except ValueError:
                    return
                headers = {}
                for line in header_lines:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        headers[key.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                raw = await reader.readexactly(length) if length else b""
                keep_open = await self.respond(method, path.split("?")[0], headers, raw, writer)
                if not keep_open or headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def respond(self, method, path, headers, raw, writer) -> bool:
        expected = self.settings.api_key
        if expected is not None and not path.startswith("/_") and headers.get("authorization") != f"Bearer {expected}":
            return await self.send_completion(writer, {}, UNAUTHORIZED, headers.get("authorization"))
        if path.endswith("/models") and method == "GET":
            body = {"object": "list", "data": [{"id": self.settings.model, "object": "model", "owned_by": "test"}]}
            return await self.send(writer, 200, body)
        if path == "/_stats":
            return await self.send(writer, 200, self.stats())
        if path == "/_log":
            entries = [
                {k: v for k, v in asdict(entry).items() if k != "authorization"} for entry in self.log
            ]
            return await self.send(writer, 200, entries)
        if path == "/_reset":
            self.reset()
            return await self.send(writer, 200, {"ok": True})
        if not path.endswith("/chat/completions") or method != "POST":
            return await self.send(writer, 404, {"error": {"message": f"no route {method} {path}"}})

        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        key = hashlib.sha256(raw).hexdigest()
        with self._lock:
            attempt = self._seen[key]
            self._seen[key] += 1
            entry = ReceivedRequest(
                index=len(self.log),
                arrival=time.monotonic(),
                path=path,
                body=body if self.settings.log_bodies else None,
                attempt=attempt,
                authorization=headers.get("authorization"),
            )
            self.log.append(entry)
        if body is None:
            return await self.send(writer, 400, {"error": {"message": "body is not JSON"}})
        probe = entry if self.settings.log_bodies else ReceivedRequest(**{**asdict(entry), "body": body})
        fault = self.settings.faults(probe) if self.settings.faults else None
        entry.fault = fault
        if fault:
            with self._lock:
                self.faults[fault] += 1

        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.settings.concurrency or 1 << 30)
        async with self._semaphore:
            if self.settings.latency:
                await asyncio.sleep(self.settings.latency)
            entry.answered = time.monotonic()
            return await self.send_completion(writer, body, fault, headers.get("authorization"))

    async def send_completion(self, writer, body: dict, fault: str | None, authorization: str | None = None) -> bool:
        settings = self.settings
        if fault == DROP:
            return False
        if fault == TIMEOUT:
            await asyncio.sleep(settings.hang_s)
            return False
        if fault == RATE_LIMIT:
            headers = {
                "Retry-After": str(max(1, math.ceil(settings.retry_after))),
                "retry-after-ms": str(int(settings.retry_after * 1000)),
            }
            error = {"error": {"message": "Rate limit reached", "type": "rate_limit_exceeded", "code": "rate_limit"}}
            return await self.send(writer, 429, error, headers)
        if fault == SERVER_ERROR:
            return await self.send(writer, 500, {"error": {"message": "internal error", "type": "server_error"}})
        if fault == BAD_REQUEST:
            return await self.send(writer, 400, {"error": {"message": "invalid request", "type": "invalid_request_error"}})
        if fault == UNAUTHORIZED:
            # Like OpenAI's 401, the message quotes the key it was given: clients must not log it.
            key = (authorization or "").removeprefix("Bearer ")
            message = f"Incorrect API key provided: {key}. You can find your API key in your account."
            return await self.send(writer, 401, {"error": {"message": message, "type": "invalid_request_error"}})
        if fault == MALFORMED_JSON:
            return await self.send_raw(writer, 200, b'{"id": "chatcmpl-x", "choices": [{"index": 0, "mess')

        content = GARBLED_TEXT if fault == GARBLED_REPLY else settings.reply(body)
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        prompt_tokens = sum(count_tokens(str(m.get("content", ""))) + 3 for m in body.get("messages") or [])
        completion_tokens = count_tokens(content)
        reply = {
            "id": "chatcmpl-" + hashlib.sha256(content.encode()).hexdigest()[:16],
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", settings.model),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        if fault == TRUNCATED:
            data = json.dumps(reply).encode()
            head = self.head(200, len(data), {})
            writer.write(head + data[: len(data) // 2])
            await writer.drain()
            return False
        return await self.send(writer, 200, reply)

    @staticmethod
    def head(status: int, length: int, headers: dict[str, str]) -> bytes:
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}
        lines = [f"HTTP/1.1 {status} {reason.get(status, 'Status')}", "Content-Type: application/json",
                 f"Content-Length: {length}", "Connection: keep-alive"]
        lines += [f"{key}: {value}" for key, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send(self, writer, status: int, body: Any, headers: dict[str, str] | None = None) -> bool:
        return await self.send_raw(writer, status, json.dumps(body, ensure_ascii=False).encode(), headers)

    async def send_raw(self, writer, status: int, data: bytes, headers: dict[str, str] | None = None) -> bool:
        writer.write(self.head(status, len(data), headers or {}) + data)
        try:
            await writer.drain()
        except ConnectionError:
            return False
        return True

    def stats(self) -> dict:
        with self._lock:
            return {
                "requests": len(self.log),
                "distinct_bodies": len(self._seen),
                "faults": dict(self.faults),
            }

    def reset(self) -> None:
        with self._lock:
            self.log.clear()
            self._seen.clear()
            self.faults.clear()


class OpenAITestServer:
    """The server on a background thread of this process.

    Args:
        latency: Seconds each request takes inside the server.
        concurrency: Requests processed at once (None: unbounded); more wait in a queue.
        reply: ``reply(body) -> str | dict | list``: the assistant's content for a request body.
        faults: ``faults(ReceivedRequest) -> kind | None`` (see ``fail_first``, ``fault_fraction``).
        retry_after: Seconds announced by 429 replies.
        hang_s: How long a ``timeout`` fault holds the request before closing.
    """

    def __init__(self, **settings: Any):
        self.settings = ServerSettings(**settings)
        self._server = _Server(self.settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """The base URL to give an OpenAI client (``http://127.0.0.1:PORT/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def log(self) -> list[ReceivedRequest]:
        return self._server.log

    @property
    def count(self) -> int:
        """Chat-completion requests received so far."""
        return len(self._server.log)

    def stats(self) -> dict:
        return self._server.stats()

    def reset(self) -> None:
        """Forgets the log and the per-body attempt counts."""
        self._server.reset()

    def start(self) -> OpenAITestServer:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            server = loop.run_until_complete(
                asyncio.start_server(self._server.handle, "127.0.0.1", 0, backlog=4096, limit=1 << 24)
            )
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            try:
                loop.run_forever()
            finally:
                server.close()
                for writer in list(self._server._writers):
                    writer.close()
                loop.run_until_complete(asyncio.sleep(0))
                loop.close()

        self._thread = threading.Thread(target=serve, name="openai-test-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("test server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            loop = self._loop

            def shutdown() -> None:
                for task in asyncio.all_tasks(loop):
                    task.cancel()
                loop.stop()

            loop.call_soon_threadsafe(shutdown)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--fault-fraction", type=float, default=0.0)
    parser.add_argument("--persistent", default="")
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--hang-s", type=float, default=30.0)
    args = parser.parse_args(argv)
    persistent = tuple(kind for kind in args.persistent.split(",") if kind)
    settings = ServerSettings(
        latency=args.latency,
        concurrency=args.concurrency,
        faults=fault_fraction(args.fault_fraction, persistent=persistent) if args.fault_fraction else None,
        retry_after=args.retry_after,
        hang_s=args.hang_s,
        log_bodies=False,
    )
    server = _Server(settings)

    async def serve() -> None:
        listener = await asyncio.start_server(server.handle, "127.0.0.1", args.port, backlog=4096, limit=1 << 24)
        print(f"URL http://127.0.0.1:{listener.sockets[0].getsockname()[1]}/v1", flush=True)
        async with listener:
            await listener.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
