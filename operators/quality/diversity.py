"""Instruction diversity: verb/object roots, a summary of them, and diversity-aware selection.

The Self-Instruct paper (Wang et al., 2023, figure 3) measures diversity by parsing each instruction
and taking the verb closest to the root with its first direct noun object ("write / essay", "give /
example"). No dependency parser ships with sftforge, so this module uses a light heuristic that covers
the shapes instructions come in:

- English imperatives: skip politeness ("please", "can you", "I want you to"), take the first word if
  it is a known instruction verb, then the first word after it that is not a determiner, pronoun,
  number, preposition or common adjective, singularised ("Write me three short poems" -> write/poem).
- English questions: the question word and the first content word ("What is the capital of France?"
  -> what/capital).
- Chinese, written without spaces: skip politeness (请, 帮我, 你能), match the longest known verb at the
  start (写, 翻译, 总结, 解释 ...), and take the head of the following noun phrase, which in Chinese is
  at its end: the text after the last 的, else the last two characters of the clause ("写一首关于秋天的
  诗" -> 写/诗, "翻译下面的英文句子" -> 翻译/句子). Questions: the question word and the first two
  characters of the topic.

Anything else falls back to ``other/<first word or two characters>``. The roots are coarse on purpose:
they are cluster keys and report rows, not a parse.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import Field
from sftforge.operators.base import StageConfig
from sftforge.operators.text import cjk_ratio

ROOT_SEPARATOR = "/"
OTHER = "other"

_EN_VERBS = frozenset(
    """
    add adapt address analyse analyze answer apply arrange assess assign brainstorm break build calculate
    categorise categorize change check choose cite clarify classify clean come compare compile complete
    compose compute condense construct continue convert correct count craft create critique debug decide
    decode define delete demonstrate derive describe design detect determine develop devise diagnose
    discuss distinguish divide draft edit elaborate eliminate encode enumerate estimate evaluate examine
    explain explore express extend extract fill find fix format formulate generate give group guess help
    highlight identify illustrate imagine implement improve infer insert interpret introduce invent judge
    label list locate make map match measure mention merge modify name narrate offer optimise optimize
    order organise organize outline paraphrase parse pick plan point predict prepare present produce
    proofread propose prove provide qualify rank rate read recommend reconstruct recount refactor reformat
    reorder rephrase replace reply report represent research respond restate retell return reverse review
    revise rewrite say score select share shorten show simplify solve sort specify spell split state
    suggest summarise summarize supply tag teach tell test think transform translate turn update use
    verify write
    """.split()
)
_EN_QUESTION_WORDS = frozenset("what why how when where who whom whose which is are do does did can could should would will was were".split())
_EN_SKIP = frozenset(
    """
    a an the this that these those some any every each all both few several many much more most other another
    me us you him her them it my our your his their its i we he she they one two three four five six seven
    eight nine ten twenty hundred first second third last next following given above below of for to in on
    at by with about from into as than and or but if so such same new good short brief simple detailed quick
    long great best better big small little creative funny interesting possible different similar correct
    appropriate suitable unique original random specific common basic important main key general single
    whole full complete proper clear concise catchy fun fictional fictitious hypothetical polite formal
    informal professional friendly persuasive personal positive negative famous popular
    """.split()
)
_EN_POLITE = re.compile(
    r"^(?:(?:please|kindly|now|also|then|hey|hi|ok|okay)[\s,]+|(?:can|could|would|will) you(?: please)?\s+|"
    r"i (?:want|need|would like) you to\s+|i'd like you to\s+|help me(?: to)?\s+|let's\s+|let us\s+)+",
    re.IGNORECASE,
)
_EN_WORD = re.compile(r"[a-z][a-z'-]*", re.IGNORECASE)
_EN_PHRASE_END = re.compile(r"[,.;:?!()\[\]\"\n]")
_EN_BOUNDARY = frozenset(
    """
    of for to about in on at by with from into onto over under between among through during after before
    that which who whom whose whether if and or but so as than using based given when where how what why
    because while without like such is are be
    """.split()
)

_ZH_POLITE = re.compile(
    r"^(?:请你|请您|请|麻烦你|麻烦|帮我|帮忙|你能不能|你能否|能不能|能否|你能|你可以|可以|我想让你|我想要|我想|"
    r"我需要你|我需要|给我|为我|试着|尝试|简单地?|简要地?|简短地?|详细地?|具体地?|分别|再|先|尽量|认真地?|大致)+"
)
_ZH_VERBS = sorted(
    """
    写 撰写 编写 创作 生成 翻译 总结 概括 解释 说明 描述 介绍 列出 列举 分析 判断 计算 推荐 设计 提供 给出 回答
    改写 重写 润色 修改 比较 对比 分类 归纳 提取 找出 识别 评价 评估 预测 制定 规划 起草 拟定 构思 讲 讲述 告诉 举例
    证明 求 解 算 编 造句 续写 扩写 缩写 纠正 检查 优化 补全 完成 选择 排序 转换 标注 整理 输出 猜 作 做 画 用 将 把
    使用 根据 按照 以 通过
    想 说 谈谈 谈 聊聊 讨论 阐述 论述 描写 概述 简述 说说 列 举 列一个 制作 拟 起 取 推导 证 化简 写出 找 指出
    """.split(),
    key=len,
    reverse=True,
)
_ZH_QUESTION = re.compile(r"(为什么|怎么样|怎么|如何|怎样|什么|哪里|哪个|哪些|哪|谁|多少|几|是否|是不是|吗|呢)")
_ZH_QUANTITY = re.compile(r"^(?:[一二两三四五六七八九十几百千\d]+|这|那|该|此|以下|下面|下列|上面|如下)?"
                          r"(?:个|篇|首|份|条|句|段|张|种|项|点|部|封|则|道|本|位|款|套|组|些|下|次)?(?:的)?")
_ZH_COVERBS = frozenset("把 将 用 使用 根据 按照 以 通过".split())
_ZH_FUNCTION_CHARS = frozenset("我你他她它们的了是在有把被就都也还又吗呢吧啊么个这那一不会能要想说")
_ZH_FUNCTION_PAIRS = frozenset("如果 既然 今天 昨天 明天 每次 现在 为啥 人们 可以 应该 时候 所以 因为 但是 然后 怎样 还是".split())
_CLAUSE_END = re.compile(r"[，,。.！!？?；;：:\n（(]")
_ZH_CHARS = re.compile(r"[\u4e00-\u9fff]")


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _english_root(text: str) -> tuple[str, str] | None:
    text = _EN_POLITE.sub("", text.strip())
    words = [word.lower().strip("'-") for word in _EN_WORD.findall(text[:300])]
    words = [word for word in words if word]
    if not words:
        return None
    head = words[0]
    if head in _EN_QUESTION_WORDS:
        for word in words[1:]:
            if word in _EN_VERBS or (word not in _EN_SKIP and word not in _EN_QUESTION_WORDS):
                return head, _singular(word)
        return head, ""
    if head not in _EN_VERBS:
        return None
    # English noun phrases are head-final: the object is the last content word before the phrase
    # ends (at punctuation, a preposition or a clause word): "a Python function that ..." -> function.
    phrase = _EN_PHRASE_END.split(text, maxsplit=1)[0]
    chunk = [word.lower().strip("'-") for word in _EN_WORD.findall(phrase)][1:]
    chunk = chunk[: next((i for i, word in enumerate(chunk) if word in _EN_BOUNDARY), len(chunk))]
    content = [word for word in chunk if word and word not in _EN_SKIP and not word.endswith("ly")]
    if content:
        return head, _singular(content[-1])
    # No object before the phrase ends ("Explain why ...", "Write a short, polite email"): the first
    # content word after the verb.
    for word in words[1:10]:
        if word not in _EN_SKIP and word not in _EN_BOUNDARY and word not in _EN_QUESTION_WORDS:
            return head, _singular(word)
    return head, ""


def _chinese_root(text: str) -> tuple[str, str] | None:
    text = re.sub(r"\s+", "", text)
    text = _ZH_POLITE.sub("", text)
    for verb in _ZH_VERBS:
        if text.startswith(verb):
            if verb in _ZH_COVERBS:
                return _chinese_coverb_root(verb, text[len(verb):])
            rest = text[len(verb):]
            clause = _CLAUSE_END.split(rest, maxsplit=1)[0]
            clause = clause[_ZH_QUANTITY.match(clause).end():] if clause else clause
            if "的" in clause:
                clause = clause.rsplit("的", 1)[1] or clause
            head = "".join(_ZH_CHARS.findall(clause))[-2:]
            return verb, head
    question = _ZH_QUESTION.search(text[:40])
    if question:
        rest = "".join(_ZH_CHARS.findall(text.replace(question.group(1), "", 1)))
        return question.group(1), _chinese_topic(rest)
    return None


def _noun_head(phrase: str) -> str:
    """The head of a Chinese noun phrase: after its last 的, its last two characters."""
    phrase = phrase[_ZH_QUANTITY.match(phrase).end():] if phrase else phrase
    if "的" in phrase:
        phrase = phrase.rsplit("的", 1)[1] or phrase
    return "".join(_ZH_CHARS.findall(phrase))[-2:]


def _chinese_coverb_root(coverb: str, rest: str) -> tuple[str, str] | None:
    """把/将 X 翻译成 Y -> 翻译/X; 用 X 概括 Y -> 概括/Y: the verb comes after a co-verb phrase."""
    clause = _CLAUSE_END.split(rest, maxsplit=1)[0]
    for start in range(1, min(len(clause), 24)):
        for verb in _ZH_VERBS:
            if verb not in _ZH_COVERBS and clause.startswith(verb, start):
                before, after = clause[:start], clause[start + len(verb):]
                return verb, _noun_head(before if coverb in ("把", "将") else after)
    return coverb, _noun_head(clause)


def _chinese_topic(chars: str) -> str:
    """The first two characters that are not function words (如果, 今天, 我的 ...)."""
    for start in range(max(len(chars) - 1, 0)):
        pair = chars[start:start + 2]
        if not (set(pair) & _ZH_FUNCTION_CHARS) and pair not in _ZH_FUNCTION_PAIRS:
            return pair
    return chars[:2]


def instruction_root(text: str | None, chinese: bool | None = None) -> str:
    """The verb/object root of one instruction, e.g. ``write/poem`` or ``写/诗`` (see the module doc).

    Args:
        text: The instruction.
        chinese: Whether it is written in CJK script (default: ``cjk_ratio`` of its start >= 0.3).
    """
    text = (text or "").strip()
    if not text:
        return f"{OTHER}{ROOT_SEPARATOR}"
    if chinese is None:
        chinese = cjk_ratio(text[:200]) >= 0.3
    root = _chinese_root(text) if chinese else _english_root(text)
    if root is None:
        if chinese:
            return f"{OTHER}{ROOT_SEPARATOR}{''.join(_ZH_CHARS.findall(text))[:2]}"
        first = _EN_WORD.findall(text)
        return f"{OTHER}{ROOT_SEPARATOR}{first[0].lower() if first else ''}"
    verb, obj = root
    return f"{verb}{ROOT_SEPARATOR}{obj}"


def instruction_roots(texts: Sequence[str | None], chinese: Sequence[bool] | None = None) -> list[str]:
    """``instruction_root`` for each text (``chinese``: the script of each, when already known)."""
    if chinese is None:
        return [instruction_root(text) for text in texts]
    return [instruction_root(text, bool(flag)) for text, flag in zip(texts, chinese)]


def root_verb(root: str) -> str:
    """The verb part of a root (``write/poem`` -> ``write``)."""
    return root.split(ROOT_SEPARATOR, 1)[0]


def diversity_summary(roots: Sequence[str | None] | Mapping[str, int], top: int = 20,
                      objects_per_verb: int = 4) -> dict:
    """How varied a set of instructions is, from their roots.

    Returns:
        ``instructions``; ``parsed`` (share with a verb root, not ``other``); ``distinct_verbs``;
        ``distinct_roots``; ``root_entropy`` (normalised Shannon entropy of roots, 1 = all distinct);
        ``top_verbs``: the commonest verbs with their share and commonest objects, as in the
        Self-Instruct paper's sunburst.
    """
    if isinstance(roots, Mapping):
        root_counts = Counter({root: count for root, count in roots.items() if root and count > 0})
    else:
        root_counts = Counter(root for root in roots if root)
    total = sum(root_counts.values())
    if total == 0:
        return {"instructions": 0, "parsed": 0.0, "distinct_verbs": 0, "distinct_roots": 0,
                "root_entropy": 0.0, "top_verbs": []}
    verb_counts: Counter = Counter()
    objects: dict[str, Counter] = {}
    for root, count in root_counts.items():
        verb, _, obj = root.partition(ROOT_SEPARATOR)
        if verb == OTHER:
            continue
        verb_counts[verb] += count
        objects.setdefault(verb, Counter())[obj or "-"] += count
    parsed = sum(verb_counts.values())
    entropy = -sum(count / total * math.log(count / total) for count in root_counts.values())
    return {
        "instructions": total,
        "parsed": round(parsed / total, 4),
        "distinct_verbs": len(verb_counts),
        "distinct_roots": len(root_counts),
        "root_entropy": round(entropy / math.log(total), 4) if total > 1 else 1.0,
        "top_verbs": [
            {
                "verb": verb,
                "share": round(count / total, 4),
                "objects": [obj for obj, _ in objects[verb].most_common(objects_per_verb)],
            }
            for verb, count in verb_counts.most_common(top)
        ],
    }


class SelectConfig(StageConfig):
    """Diversity-aware selection of instruction rows (``select:`` in the job config).

    Attributes:
        target_size: How many instruction rows to keep in total, at most.
        max_per_cluster: Never keep more than this many rows of one root (default: no cap beyond what
            ``target_size`` implies).
        cluster_by: ``root`` clusters on verb/object (``write/poem``); ``verb`` on the verb alone,
            coarser clusters for small targets.
    """

    target_size: int = Field(gt=0)
    max_per_cluster: int | None = Field(default=None, gt=0)
    cluster_by: str = Field(default="root", pattern="^(root|verb)$")


@dataclass(frozen=True)
class Selection:
    """Which rows a selection keeps.

    Attributes:
        selected: Per row, whether it is kept.
        rank: Per row, its rank inside its cluster (0 = the cluster's best row).
    """

    selected: np.ndarray
    rank: np.ndarray


def cluster_keys(roots: Sequence[str | None], cluster_by: str = "root") -> list[str]:
    """The cluster of each row: its root, or its verb with ``cluster_by='verb'``."""
    keys = [root or f"{OTHER}{ROOT_SEPARATOR}" for root in roots]
    return [root_verb(key) for key in keys] if cluster_by == "verb" else keys


def choose_diverse(
    ids: Sequence[str],
    clusters: Sequence[str],
    scores: Sequence[float | None],
    target_size: int,
    max_per_cluster: int | None = None,
) -> Selection:
    """Keeps at most ``target_size`` rows, spread over clusters, the best of each first.

    Rows are ranked inside their cluster by score (higher first; a missing score counts as 0) and then
    by id, so the result does not depend on row order. Selection goes round by round: every cluster's
    best row, then every cluster's second best, and so on; inside the round that overflows the target,
    higher scores win. Small clusters are therefore never crowded out by a few huge ones, which is
    the point: a diverse set, not just the top of the score list.

    Args:
        ids: A stable id per row (``doc_id``), the final tie-breaker.
        clusters: The cluster key of each row.
        scores: The quality score of each row.
        target_size: Maximum rows to keep.
        max_per_cluster: Maximum rows to keep of any one cluster.
    """
    count = len(ids)
    score_array = np.array([-math.inf if s is None or math.isnan(s) else float(s) for s in scores], float)
    score_array = np.where(np.isfinite(score_array), score_array, 0.0)
    id_array = np.array(list(ids), dtype=object)
    _, cluster_index = np.unique(np.array(list(clusters), dtype=object), return_inverse=True)
    # Order rows by cluster, then best score, then id; the rank is the position inside the cluster.
    order = np.lexsort((id_array.astype(str), -score_array, cluster_index)) if count else np.array([], int)
    rank = np.zeros(count, np.int64)
    if count:
        sorted_clusters = cluster_index[order]
        starts = np.r_[True, sorted_clusters[1:] != sorted_clusters[:-1]]
        first_of_cluster = np.maximum.accumulate(np.where(starts, np.arange(count), 0))
        rank[order] = np.arange(count) - first_of_cluster
    eligible = np.ones(count, bool) if max_per_cluster is None else rank < max_per_cluster
    candidates = np.nonzero(eligible)[0]
    picked = candidates[
        np.lexsort((id_array[candidates].astype(str), -score_array[candidates], rank[candidates]))
    ][:target_size]
    selected = np.zeros(count, bool)
    selected[picked] = True
    return Selection(selected=selected, rank=rank)
