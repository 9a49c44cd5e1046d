"""Self-Instruct's prompt templates, in English and Chinese: generation of new tasks, the classification
question, and instance generation (input-first, and output-first for classification tasks)."""

from __future__ import annotations

from sftforge.operators.llm_client import PromptTemplate

GENERATE = {
    "en": PromptTemplate(
        name="self_instruct.generate.en",
        version="1",
        messages=(
            (
                "user",
                (
                    "Here is a numbered list of tasks that people give to an AI assistant. Continue the list "
                    "with {count} new tasks, numbered from {first} to {last}.\n\n"
                    "Every new task must:\n"
                    "- be one self-contained instruction written in English;\n"
                    "- differ from the tasks above and from each other, in topic and in type (open "
                    "questions, rewriting, classification, brainstorming, explanation, reasoning, maths, "
                    "coding, advice ...);\n"
                    "- be doable with text alone: no pictures, drawings, audio, files or web browsing.\n\n"
                    'Write only the tasks, one per line, each starting with "Task N:". Do not answer them.\n\n'
                    "{tasks}"
                ),
            ),
        ),
    ),
    "zh": PromptTemplate(
        name="self_instruct.generate.zh",
        version="1",
        messages=(
            (
                "user",
                (
                    "下面是用户交给 AI 助手的任务清单，已经编号。请接着写出 {count} 个新任务，编号从 {first} 到 "
                    "{last}。\n\n"
                    "每个新任务必须：\n"
                    "- 是一条用中文写成、独立完整的指令；\n"
                    "- 在主题和类型上都与上面的任务以及彼此不同（开放问答、改写、分类、头脑风暴、解释、推理、"
                    "数学、编程、建议等）；\n"
                    "- 只靠文字就能完成：不涉及图片、绘画、音频、文件或上网。\n\n"
                    "只写任务本身，每行一个，以“任务 N：”开头，不要回答。\n\n"
                    "{tasks}"
                ),
            ),
        ),
    ),
}

CLASSIFY = {
    "en": PromptTemplate(
        name="self_instruct.classify.en",
        version="1",
        messages=(
            (
                "user",
                (
                    "Is the task below a classification task, that is, one whose answer is one of a small, "
                    "fixed set of labels (such as yes/no, positive/negative, or a category)? Answer Yes or "
                    "No only.\n\n{examples}Task: {instruction}\nClassification:"
                ),
            ),
        ),
    ),
    "zh": PromptTemplate(
        name="self_instruct.classify.zh",
        version="1",
        messages=(
            (
                "user",
                (
                    "判断下面的任务是不是分类任务，即答案只能从一小组固定标签中选一个（例如 是/否、正面/负面、"
                    "某个类别）。只回答“是”或“否”。\n\n{examples}任务：{instruction}\n分类任务："
                ),
            ),
        ),
    ),
}

INSTANCES_INPUT_FIRST = {
    "en": PromptTemplate(
        name="self_instruct.instances_input_first.en",
        version="1",
        messages=(
            (
                "user",
                (
                    "Write up to {count} examples of the task below. Each example has an input and the "
                    "correct output for that input. When the task needs no input, leave the input empty "
                    "and just give the output.\n\n"
                    "Use exactly this format:\nExample 1\nInput: <the input, or nothing>\nOutput: <the "
                    "correct output>\n\n{examples}Task: {instruction}"
                ),
            ),
        ),
    ),
    "zh": PromptTemplate(
        name="self_instruct.instances_input_first.zh",
        version="1",
        messages=(
            (
                "user",
                (
                    "为下面的任务写最多 {count} 个示例。每个示例包含一个输入和该输入的正确输出。如果任务不需要"
                    "输入，输入留空，只写输出。\n\n"
                    "严格使用以下格式：\n示例 1\n输入：<输入，可为空>\n输出：<正确的输出>\n\n"
                    "{examples}任务：{instruction}"
                ),
            ),
        ),
    ),
}

INSTANCES_OUTPUT_FIRST = {
    "en": PromptTemplate(
        name="self_instruct.instances_output_first.en",
        version="1",
        messages=(
            (
                "user",
                (
                    "The task below is a classification task. Go through its possible class labels and, "
                    "for each label, write an input that belongs to it (at most {count} in all).\n\n"
                    "Use exactly this format:\nClass label: <a label>\nInput: <an input with that label, "
                    "or nothing if the task needs none>\n\n{examples}Task: {instruction}"
                ),
            ),
        ),
    ),
    "zh": PromptTemplate(
        name="self_instruct.instances_output_first.zh",
        version="1",
        messages=(
            (
                "user",
                (
                    "下面是一个分类任务。请逐一列出它可能的类别标签，并为每个标签写一个属于该类别的输入（总共最多 "
                    "{count} 个）。\n\n"
                    "严格使用以下格式：\n类别标签：<一个标签>\n输入：<属于该标签的输入；任务不需要输入时留空>\n\n"
                    "{examples}任务：{instruction}"
                ),
            ),
        ),
    ),
}

TEMPLATES: tuple[PromptTemplate, ...] = tuple(
    template
    for family in (GENERATE, CLASSIFY, INSTANCES_INPUT_FIRST, INSTANCES_OUTPUT_FIRST)
    for template in family.values()
)
