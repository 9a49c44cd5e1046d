"""The workers of Self-Instruct's rounds: ``SelfInstructWorker`` s as Ray actors, or one in the driver.

With Ray running, a round's prompts (and then its accepted instructions) are dealt to ``workers``
actors by number (the k-th to worker k mod W), each with its own engine; the results come back in the
round's order, so what a round asks and decides does not depend on W. The actors share the run's
coordinator (the cluster-wide rate limits, budget and ledger): the one of ``LLMService`` when the config
names a Ray actor, else one started here for the run. The actors spread over the nodes, or stay on
the driver's node when an endpoint listens on loopback. An actor that dies is restarted by Ray and its
call retried; the calls it had answered come from the response cache. Without Ray, or when the
coordinator lives only in this process, one worker runs in the driver's process: same requests, same
decisions.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sftforge.jobs.augment.self_instruct_work import (
    GenerationResult,
    InstanceResult,
    InstructionSpec,
    PromptSpec,
    RoundPrompts,
    SelfInstructWorker,
)
from sftforge.operators.augment import self_instruct as si
from sftforge.operators.llm_client import LLMConfig
from sftforge.operators.llm_client import coordinator as coordination

#: Restarts of a worker actor (and retries of its call) before a round fails.
MAX_RESTARTS = 3


def deal(items: Sequence[Any], workers: int) -> list[list[Any]]:
    """Item k to worker k mod ``workers``, in order."""
    return [list(items[k::workers]) for k in range(workers)]


def distributed(llm: LLMConfig) -> bool:
    """Whether the workers run as Ray actors: Ray runs, and the coordinator (if any) is reachable there."""
    import ray

    if not ray.is_initialized():
        return False
    return not (llm.coordinator and llm.coordinator in coordination._LOCAL)


def placement(llm: LLMConfig):
    """Spread over the nodes; on this node when an endpoint listens on loopback (the embedded llama.cpp
    server, a test server), which no other node reaches."""
    from urllib.parse import urlsplit

    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    hosts = {urlsplit(url).hostname for url in llm.endpoints}
    if hosts & {"127.0.0.1", "localhost", "::1"}:
        return NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return "SPREAD"


class WorkerPool:
    """``workers`` Self-Instruct workers; ``generate`` and ``instances`` run a round's share on each.

    Args:
        config: The method's config (``workers``, ``worker_cpus``).
        llm: The resolved LLM config.
        prompts: Templates and examples for the workers.
        worker_class: The worker (a subclass in tests).
    """

    def __init__(self, config: si.SelfInstructConfig, llm: LLMConfig, prompts: RoundPrompts,
                 worker_class: type[SelfInstructWorker] = SelfInstructWorker):
        self.actors: list[Any] = []
        self.usage: Counter = Counter()  # the calls' requests, tokens and cost, summed over the workers
        self.local: SelfInstructWorker | None = None
        self._coordinator = None
        if not distributed(llm):
            self.local = worker_class(config, llm, prompts)
            self.size = 1
            return
        import ray

        if not llm.coordinator:
            name = f"sftforge-llm-self-instruct-{uuid.uuid4().hex[:12]}"
            self._coordinator = coordination.start_actor(name, llm)
            llm = llm.model_copy(update={"coordinator": name})
        actor = ray.remote(num_cpus=config.worker_cpus, max_restarts=MAX_RESTARTS,
                           max_task_retries=MAX_RESTARTS)(worker_class)
        self.actors = [actor.options(scheduling_strategy=placement(llm)).remote(config, llm, prompts)
                       for _ in range(config.workers)]
        self.size = len(self.actors)

    def generate(self, specs: Sequence[PromptSpec]) -> list[GenerationResult]:
        """Each prompt's result, in the prompts' order."""
        if self.local is not None:
            return self._keep_usage([self.local.generate(list(specs))])
        return self._gather([actor.generate.remote(share)
                             for actor, share in zip(self.actors, deal(specs, self.size)) if share])

    def instances(self, round_number: int, specs: Sequence[InstructionSpec]) -> list[InstanceResult]:
        """Each instruction's classification and instances, in the instructions' order."""
        if self.local is not None:
            return self._keep_usage([self.local.instances(round_number, list(specs))])
        return self._gather([actor.instances.remote(round_number, share)
                             for actor, share in zip(self.actors, deal(specs, self.size)) if share])

    def _gather(self, refs: list) -> list:
        import ray

        return self._keep_usage(ray.get(refs))

    def _keep_usage(self, replies: list[tuple[list, dict[str, float]]]) -> list:
        results = []
        for part, usage in replies:
            results.extend(part)
            self.usage.update(usage)
        return sorted(results, key=lambda result: result.number)

    def close(self) -> None:
        """Stops the actors (or the local worker's engine) and the coordinator started here."""
        if self.local is not None:
            self.local.close()
            self.local = None
        if self.actors or self._coordinator is not None:
            import ray

            # Closes each engine's connections (its ledger is flushed after every call); a dead or stuck
            # actor is killed below all the same.
            with contextlib.suppress(Exception):
                ray.get([actor.close.remote() for actor in self.actors], timeout=30)
            for actor in self.actors:
                ray.kill(actor)
            if self._coordinator is not None:
                ray.kill(self._coordinator)
        self.actors, self._coordinator = [], None
