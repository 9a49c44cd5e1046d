"""The LLM engine: every LLM step of sftforge (the judge, augmentation) goes through it.

Typical use in a stage::

    from sftforge.operators.llm_client import LLMEngine, LLMRequest, PromptTemplate

    TEMPLATE = PromptTemplate(name="paraphrase.en", version="1", messages=(("user", "Rephrase: {text}"),))

    def setup(self):
        self.engine = LLMEngine(self.llm, stage=self.name)   # self.llm: LLMService.config

    def process(self, table):
        results = self.engine.run([LLMRequest(id=d, template=TEMPLATE, variables={"text": t}) ...])
        reasons = [r.reject_reason for r in results]      # None for answers, "llm_<reason>" otherwise

See ``operators/llm/API.md`` for the contract and its changes.
"""

from sftforge.operators.llm_client.config import (
    Budget,
    LLMConfig,
    LocalModelConfig,
    Price,
    RateLimits,
    RetryPolicy,
)
from sftforge.operators.llm_client.engine import LLMEngine
from sftforge.operators.llm_client.prompt import PromptError, PromptTemplate
from sftforge.operators.llm_client.request import (
    BUDGET_EXHAUSTED,
    DEAD_LETTER_REASONS,
    DEAD_LETTER_SCHEMA,
    ENDPOINT_FAILURE_REASONS,
    EndpointOutage,
    LLMRequest,
    LLMResult,
    dead_letter_table,
    is_endpoint_failure,
    results_by_id,
)
from sftforge.operators.llm_client.service import LLMService

__all__ = [
    "BUDGET_EXHAUSTED",
    "DEAD_LETTER_REASONS",
    "DEAD_LETTER_SCHEMA",
    "ENDPOINT_FAILURE_REASONS",
    "Budget",
    "EndpointOutage",
    "LLMConfig",
    "LLMEngine",
    "LLMRequest",
    "LLMResult",
    "LLMService",
    "LocalModelConfig",
    "Price",
    "PromptError",
    "PromptTemplate",
    "RateLimits",
    "RetryPolicy",
    "dead_letter_table",
    "is_endpoint_failure",
    "results_by_id",
]
