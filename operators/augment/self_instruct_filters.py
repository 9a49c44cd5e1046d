"""Self-Instruct's filters: new instructions (language, length, unsupported tasks, novelty against the
pool) and instances (the paper's rules)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sftforge.operators.augment import filters
from sftforge.operators.augment.filters import InstructionFilterConfig, Language
from sftforge.operators.augment.novelty import NoveltyIndex, rouge_l_text
from sftforge.operators.augment.self_instruct_seeds import Instance


def candidate_reason(
    candidate: str, language: Language, config: InstructionFilterConfig, index: NoveltyIndex
) -> tuple[str | None, str | None]:
    """Checks a new instruction and, when it passes, adds it to the pool.

    Returns:
        ``(reason, detail)``: both None when accepted; otherwise a dead-letter reason and evidence.
    """
    reason = filters.instruction_reason(candidate, language, config)
    if reason is not None:
        return reason, None
    verdict = index.add_if_novel(candidate)
    if not verdict.novel:
        return filters.TOO_SIMILAR, f"rouge_l={verdict.score:.3f} with: {verdict.match}"
    return None, None


def candidate_reasons(
    candidates: Sequence[str], language: Language, config: InstructionFilterConfig, index: NoveltyIndex
) -> list[tuple[str | None, str | None]]:
    """``candidate_reason`` for a round's candidates at once, in order (the same decisions, one
    batched novelty check): the accepted ones join the pool."""
    reasons: list[tuple[str | None, str | None]] = []
    passing: list[int] = []
    for position, candidate in enumerate(candidates):
        reason = filters.instruction_reason(candidate, language, config)
        reasons.append((reason, None))
        if reason is None:
            passing.append(position)
    verdicts = index.filter_round([candidates[position] for position in passing])
    for position, verdict in zip(passing, verdicts, strict=True):
        if not verdict.novel:
            reasons[position] = (filters.TOO_SIMILAR, f"rouge_l={verdict.score:.3f} with: {verdict.match}")
    return reasons


def select_instances(
    instruction: str, instances: Iterable[Instance], limit: int
) -> tuple[list[Instance], list[tuple[Instance, str]]]:
    """The paper's instance filters: keeps at most ``limit`` instances.

    Drops empty outputs, inputs equal to their output, outputs that repeat the instruction (ROUGE-L
    >= 0.7 with it), exact duplicates, and every instance whose input also appears with a different
    output.

    Returns:
        ``(kept, dropped)`` where ``dropped`` pairs each dropped instance with its reason.
    """
    instances = list(instances)
    outputs_by_input: dict[str, set[str]] = {}
    for instance in instances:
        outputs_by_input.setdefault(filters.normalized(instance.input), set()).add(
            filters.normalized(instance.output)
        )
    kept: list[Instance] = []
    dropped: list[tuple[Instance, str]] = []
    seen: set[tuple[str, str]] = set()
    instruction_key = filters.normalized(instruction)
    for instance in instances:
        key = (filters.normalized(instance.input), filters.normalized(instance.output))
        if not key[1]:
            dropped.append((instance, "empty_output"))
        elif (
            key[0] == key[1] or key[1] == instruction_key or rouge_l_text(instance.output, instruction) >= 0.7
        ):
            dropped.append((instance, "output_copies_input"))
        elif key in seen:
            dropped.append((instance, filters.DUPLICATE))
        elif key[0] and len(outputs_by_input[key[0]]) > 1:
            dropped.append((instance, "conflicting_outputs"))
        elif len(kept) >= limit:
            dropped.append((instance, "over_limit"))
        else:
            kept.append(instance)
        seen.add(key)
    return kept, dropped
