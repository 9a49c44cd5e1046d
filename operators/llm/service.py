"""The run-level side of the engine: the embedded model's lifecycle, the shared coordinator, the report.

The pipeline wraps a run in ``LLMService``; stages get ``service.config`` (resolved: a concrete
``base_url`` and the coordinator's name) and build their ``LLMEngine`` from it in ``setup``.
"""

from __future__ import annotations

from operators.llm.config import LLMConfig


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
        raise NotImplementedError

    def __enter__(self) -> LLMService:
        raise NotImplementedError

    def __exit__(self, *exc_info) -> None:
        raise NotImplementedError

    def report(self) -> dict:
        """The manifest's ``llm`` section: endpoint (no key), ledger per stage and total, cache, budget."""
        raise NotImplementedError
