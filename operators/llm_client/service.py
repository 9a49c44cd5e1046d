"""The run-level side of the engine: the embedded model's lifecycle, the shared coordinator, the report.

The pipeline wraps a run in ``LLMService``; stages get ``service.config`` (resolved: a concrete
``base_url`` and the coordinator's name) and build their ``LLMEngine`` from it in ``setup``.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

from sftforge.operators.llm_client import coordinator as coordination
from sftforge.operators.llm_client.config import LLMConfig
from sftforge.operators.llm_client.local_server import (
    LocalModelError,
    LocalModelServer,
    local_backend_problem,
)

log = logging.getLogger("sftforge.llm")

#: Request timeout for the bundled local server unless ``llm.timeout_s`` is set: its health is watched
#: separately, so a long wait only ever waits on a live server.
LOCAL_TIMEOUT_S = 600.0


def public_url(url: str | None) -> str | None:
    """``url`` without user info or query string (either may carry credentials)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def endpoint_ledger(counts: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per-endpoint counts (``endpoint|<url>|<name>`` ledger entries) as ``{url: {name: count}}``."""
    endpoints: dict[str, dict[str, int]] = {}
    for key, value in counts.items():
        if key.startswith("endpoint|"):
            _, url, name = key.rsplit("|", 2) if key.count("|") >= 2 else (key, "", key)
            endpoints.setdefault(public_url(url) or url, {})[name] = int(value)
    return endpoints


class LLMService:
    """Context manager around a run's LLM use.

    On enter: for ``backend: local``, start the llama.cpp server on 127.0.0.1 and wait until it
    answers (or mark the service unavailable, with ``skip_reason`` saying how to enable it); start the
    coordinator (a named Ray actor when Ray is initialised, an in-process object otherwise) that holds
    the cluster-wide rate limits, the budget and the ledger. On exit: stop the server and the actor.

    Attributes:
        config: The resolved config to hand to stages (None when unavailable).
        available: False when LLM stages must be skipped.
        skip_reason: One line saying why LLM stages are skipped and how to enable them.
    """

    def __init__(self, config: LLMConfig, *, run_id: str = "default"):
        self.requested = config
        self.run_id = run_id
        self.name = "sftforge-llm-" + re.sub(r"[^A-Za-z0-9_.-]", "-", run_id)
        self.config: LLMConfig | None = None
        self.available = False
        self.skip_reason: str | None = None
        self._server: LocalModelServer | None = None
        self._actor = None
        self._local: coordination.Coordinator | None = None
        self._final: dict[str, Any] | None = None
        self._server_record: dict[str, Any] | None = None
        self.progress = None  # the driver's live ledger line (sftforge.jobs.progress.LLMProgress), if any

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> LLMService:
        """Starts the embedded model (``backend: local``) and the coordinator; see the class docstring."""
        config = self.requested
        if config.backend == "local":
            problem = local_backend_problem(config.local)
            if problem:
                self.skip_reason = f"LLM stages skipped: llm.backend is 'local' but {problem}"
                log.warning(self.skip_reason)
                return self
            try:
                self._server = LocalModelServer(config.local, alias=config.model).start()
            except LocalModelError as error:
                if config.local.required:
                    raise
                self.skip_reason = f"LLM stages skipped: the local model could not start: {error}"[:400]
                log.warning(self.skip_reason)
                return self
            update: dict[str, Any] = {"base_url": self._server.url, "api_key_env": None}
            if "circuit" not in config.model_fields_set:
                # Calls wait out a restart of the server (which may take a minute on a busy machine);
                # a second death fails the run through the watcher's one line.
                update["circuit"] = config.circuit.model_copy(
                    update={"give_up_s": max(config.circuit.give_up_s, min(config.local.startup_timeout_s, 120.0))}
                )
            if "timeout_s" not in config.model_fields_set:
                # A busy machine shares its cores with the server: a reply can take minutes, and the
                # watcher (process poll + health check) notices a dead or hung server within seconds.
                update["timeout_s"] = max(config.timeout_s, LOCAL_TIMEOUT_S)
            if "structured_output" not in config.model_fields_set:
                # llama.cpp's server constrains JSON with a grammar built from this form only.
                update["structured_output"] = "json_object_schema"
            config = config.model_copy(update=update)
        try:
            self._start_coordinator(config)
        except BaseException:
            self._stop_server()
            raise
        self.config = config.model_copy(update={"coordinator": self.name})
        self.available = True
        return self

    def _start_coordinator(self, config: LLMConfig) -> None:
        import ray

        if ray.is_initialized():
            self._actor = coordination.start_actor(self.name, config)
            ray.get(self._actor.snapshot.remote())  # fail here, not in a worker, if it cannot start
        else:
            self._local = coordination.coordinator_for(config)
            coordination.register_local(self.name, self._local)

    def stop(self) -> None:
        """Keeps the final ledger for ``report``, then stops the coordinator and the embedded model."""
        try:
            if self.available and self._final is None:
                self._final = self._snapshot()
        finally:
            if self._actor is not None:
                import ray

                ray.kill(self._actor)
                self._actor = None
            if self._local is not None:
                coordination.unregister_local(self.name)
                self._local = None
            self._stop_server()

    def problem(self) -> str | None:
        """One line when the local server is gone for good (it died again after its restart), else None."""
        return self._server.failure if self._server is not None else None

    def check(self) -> None:
        """Raises ``LocalModelError`` when the local server is gone for good."""
        problem = self.problem()
        if problem:
            raise LocalModelError(problem)

    def _stop_server(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server_record = {"restarts": self._server.restarts, "failure": self._server.failure,
                                   "log": self._server.log_path}
            self._server = None

    def ledger(self) -> dict[str, Any]:
        """The coordinator's ledger now: per stage, in total, the budget (see ``Coordinator.snapshot``)."""
        return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        if self._actor is not None:
            import ray

            return ray.get(self._actor.snapshot.remote())
        if self._local is not None:
            return self._local.snapshot()
        return self._final or coordination.Coordinator().snapshot()

    def report(self) -> dict[str, Any]:
        """The manifest's ``llm`` section: endpoint (no key), ledger per stage and total, cache, budget.

        Callable inside the ``with`` block and after it (then it reports the totals at exit).
        """
        config = self.config or self.requested
        section: dict[str, Any] = {
            "backend": self.requested.backend,
            "model": config.model,
            "base_url": (public_url(config.base_url) if isinstance(config.base_url, str) or config.base_url is None
                         else [public_url(url) for url in config.base_url]),
            "api_key_env": config.api_key_env,
            "skipped": self.skip_reason,
        }
        if not self.available:
            return section
        snapshot = self._snapshot()
        total = snapshot["total"]
        section.update(
            {
                "cache": {
                    "url": public_url(config.cache),
                    "hits": int(total.get("cache_hits", 0)),
                    "misses": int(total.get("cache_misses", 0)),
                },
                "ledger": {"stages": snapshot["stages"], "total": total},
                "budget": snapshot["budget"] if config.budget.enabled else None,
                "rate_limit_pauses": snapshot["rate_limit_pauses"],
                "prices": {model: price.model_dump() for model, price in config.prices.items()},
                "endpoints": endpoint_ledger(total),
            }
        )
        if self._server is not None or self._server_record is not None:
            record = self._server_record or {"restarts": self._server.restarts, "failure": self._server.failure,
                                             "log": self._server.log_path}
            section["local_server"] = record
        return section
