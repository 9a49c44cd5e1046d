"""The response cache: hits answer without requests, any change to what shapes a reply is a miss."""

from __future__ import annotations

import json
from pathlib import Path

from sftforge.operators.llm_client import LLMEngine, LLMRequest, PromptTemplate
from sftforge.operators.llm_client.cache import CachedCompletion, ResponseCache, cache_key

TEMPLATE = PromptTemplate(name="test.cache", version="1", messages=(("user", "say {word}"),))
SCHEMA_TEMPLATE = PromptTemplate(
    name="test.cache.json",
    version="1",
    messages=(("user", "score {word}"),),
    schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
)


def requests(template=TEMPLATE, words=("a", "b", "c")):
    return [LLMRequest(id=word, template=template, variables={"word": word}) for word in words]


def test_rerun_makes_no_new_requests(server, llm_config, tmp_path):
    config = llm_config(cache=str(tmp_path / "cache"))
    with LLMEngine(config) as engine:
        first = engine.run(requests())
    assert server.count == 3
    with LLMEngine(config) as engine:
        second = engine.run(requests())
        ledger = engine.ledger()
    assert server.count == 3
    assert [result.text for result in second] == [result.text for result in first]
    assert all(result.cached and result.attempts == 0 for result in second)
    assert all(result.prompt_tokens == 0 for result in second)  # a hit costs nothing
    assert ledger["cache_hits"] == 3 and "cache_misses" not in ledger and "requests" not in ledger


def test_first_run_counts_misses(server, llm_config, tmp_path):
    with LLMEngine(llm_config(cache=str(tmp_path))) as engine:
        engine.run(requests())
        ledger = engine.ledger()
    assert ledger["cache_misses"] == 3 and "cache_hits" not in ledger


def test_template_version_change_invalidates(server, llm_config, tmp_path):
    config = llm_config(cache=str(tmp_path))
    with LLMEngine(config) as engine:
        engine.run(requests())
    bumped = PromptTemplate(name="test.cache", version="2", messages=TEMPLATE.messages)
    with LLMEngine(config) as engine:
        results = engine.run(requests(bumped))
    assert server.count == 6
    assert not any(result.cached for result in results)


def test_sampling_parameters_and_sample_index_are_part_of_the_key(server, llm_config, tmp_path):
    with LLMEngine(llm_config(cache=str(tmp_path))) as engine:
        engine.run(requests(words=("a",)))
    with LLMEngine(llm_config(cache=str(tmp_path), temperature=0.9)) as engine:
        engine.run(requests(words=("a",)))
    with LLMEngine(llm_config(cache=str(tmp_path), model="other-model")) as engine:
        engine.run(requests(words=("a",)))
    with LLMEngine(llm_config(cache=str(tmp_path))) as engine:
        [draw] = engine.run([LLMRequest(id="a", template=TEMPLATE, variables={"word": "a"}, sample=1)])
    assert server.count == 4 and not draw.cached


def test_invalid_replies_are_cached_too_so_reruns_reproduce_dead_letters_for_free(server, llm_config, tmp_path):
    server.settings.reply = lambda body: "no json here"
    config = llm_config(cache=str(tmp_path))
    with LLMEngine(config) as engine:
        [first] = engine.run(requests(SCHEMA_TEMPLATE, ("a",)))
    with LLMEngine(config) as engine:
        [second] = engine.run(requests(SCHEMA_TEMPLATE, ("a",)))
    assert first.reason == second.reason == "invalid_json"
    assert server.count == 2  # request + repair, once


def test_transport_failures_are_not_cached(server, llm_config, tmp_path):
    from tests.support.openai_server import SERVER_ERROR, always

    server.settings.faults = always(SERVER_ERROR)
    config = llm_config(cache=str(tmp_path))
    with LLMEngine(config) as engine:
        [failed] = engine.run(requests(words=("a",)))
    assert failed.reason == "server_error"
    server.settings.faults = None
    with LLMEngine(config) as engine:
        [answered] = engine.run(requests(words=("a",)))
    assert answered.ok and not answered.cached


def test_entries_are_written_atomically_and_hold_no_secrets(tmp_path):
    cache = ResponseCache(str(tmp_path))
    key = cache_key({"messages": [{"role": "user", "content": "hi"}]})
    entry = CachedCompletion(content="你好", finish_reason="stop", prompt_tokens=3, completion_tokens=2, model="m")
    cache.put(key, entry)
    cache.put(key, entry)
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert [path.name for path in files] == [f"{key}.json"]  # no temporary file left behind
    assert cache.get(key) == entry
    stored = json.loads(files[0].read_text(encoding="utf-8"))
    assert set(stored) == {"format", "key", "completion"}


def test_corrupt_entry_is_a_miss(tmp_path):
    cache = ResponseCache(str(tmp_path))
    key = cache_key({"x": 1})
    path = Path(cache.path(key))
    path.parent.mkdir(parents=True)
    path.write_text('{"format": 1, "key": "')
    assert cache.get(key) is None


def test_fsspec_url(server, llm_config):
    import fsspec

    url = "memory://sftforge-test-cache"
    config = llm_config(cache=url)
    with LLMEngine(config) as engine:
        engine.run(requests())
    with LLMEngine(config) as engine:
        results = engine.run(requests())
    assert server.count == 3 and all(result.cached for result in results)
    assert len(fsspec.filesystem("memory").find("/sftforge-test-cache")) == 3
