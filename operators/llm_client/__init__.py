"""The LLM engine: every LLM step of sftforge (the judge, augmentation) goes through it.

Typical use in a stage::

    from operators.llm import LLMEngine, LLMRequest, PromptTemplate

    TEMPLATE = PromptTemplate(name="paraphrase.en", version="1", messages=(("user", "Rephrase: {text}"),))

    def setup(self):
        self.engine = LLMEngine(self.llm, stage=self.name)   # self.llm: LLMService.config

    def process(self, table):
        results = self.engine.run([LLMRequest(id=d, template=TEMPLATE, variables={"text": t}) ...])
        reasons = [r.reject_reason for r in results]      # None for answers, "llm_<reason>" otherwise

See ``operators/llm/API.md`` for the contract and its changes.
"""

from operators.llm.config import Budget, LLMConfig, LocalModelConfig, Price, RateLimits, RetryPolicy
from operators.llm.engine import LLMEngine
from operators.llm.prompt import PromptError, PromptTemplate
from operators.llm.request import (
    BUDGET_EXHAUSTED,
    DEAD_LETTER_REASONS,
    DEAD_LETTER_SCHEMA,
    LLMRequest,
    LLMResult,
    dead_letter_table,
    results_by_id,
)
from operators.llm.service import LLMService

__all__ = [
    "BUDGET_EXHAUSTED",
    "DEAD_LETTER_REASONS",
    "DEAD_LETTER_SCHEMA",
    "Budget",
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
    "results_by_id",
]
