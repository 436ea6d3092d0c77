"""The wiring of ``Memory(llm=...)`` with the in-process ScriptedLLM: batching, debounce, resolution, usage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from agent_memory import Memory, MemoryConfig, Message
from agent_memory.testing.fakes import HashEmbedder
from agent_memory.testing.llm import ScriptedLLM

DAY1, DAY2 = "2024-03-01T09:00:00Z", "2024-03-20T09:00:00Z"
NOTHING = {"messages": []}


def fact(source: str, relation: str, target: str, text: str) -> dict[str, Any]:
    return {"source": source, "relation": relation, "target": target, "fact": text}


def lives_in(city: str) -> dict[str, Any]:
    return {"messages": [{"index": 0, "facts": [fact("E1", "LIVES_IN", city, f"Jane Smith lives in {city}.")]}]}


def summary(text: str = "Jane Smith.") -> dict[str, Any]:
    return {"summary": text, "observations": []}


def said(text: str, when: str = DAY1) -> Message:
    return Message(role="user", name="Jane Smith", content=text, created_at=when)


@pytest.fixture
def llm() -> ScriptedLLM:
    return ScriptedLLM(prompt_tokens=100, completion_tokens=10)


@pytest.fixture
def make(llm: ScriptedLLM) -> Iterator[Any]:
    made: list[Memory] = []

    def build(debounce: float = 30.0, users: tuple[str, ...] = ("jane",)) -> Memory:
        memory = Memory.ephemeral(llm=llm, embedder=HashEmbedder(),
                                  config=MemoryConfig(home=None, vector_backend="exact", llm_debounce_seconds=debounce))
        for user in users:
            memory.user.add(user_id=user, first_name=user.title(), last_name="Smith")
            memory.thread.create(thread_id=f"{user}-t", user_id=user)
        made.append(memory)
        return memory

    yield build
    for memory in made:
        memory.close()


def messages_in(llm: ScriptedLLM) -> list[int]:
    """How many messages each extract call read."""
    return [m[-1]["content"].count("\n[") for m, _, name, _ in llm.asked if name == "extract"]


def test_submits_inside_the_window_do_not_cut_it_short(make: Any, llm: ScriptedLLM) -> None:
    """A chat loop adds one message at a time: they gather into one batch, one extract call."""
    memory = make(debounce=0.5)
    llm.answers += [NOTHING]
    for text in ("Hello!", "How are you?", "Fine, thanks."):
        memory.thread.add_messages("jane-t", messages=[said(text)])
        time.sleep(0.05)  # each add notifies the worker; the window must hold all the same
    deadline = time.monotonic() + 10
    while memory.graph.episodes(user_id="jane", status="pending") and time.monotonic() < deadline:
        time.sleep(0.05)  # no wait_until_processed: the window closes on its own
    assert messages_in(llm) == [3]
    assert llm.names == ["extract"]  # nothing learned: no resolve, no summarize call


def test_waiting_cuts_the_window_short_and_goes_first(make: Any, llm: ScriptedLLM) -> None:
    memory = make(debounce=30.0, users=("ann", "jane"))
    llm.answers += [NOTHING]
    memory.thread.add_messages("ann-t", messages=[said("Hi, I'm Ann.")])
    memory.thread.add_messages("jane-t", messages=[said("Hi, I'm Jane.")])
    started = time.monotonic()
    memory.wait_until_processed("jane")
    assert time.monotonic() - started < 10
    assert not memory.graph.episodes(user_id="jane", status="pending")
    assert len(memory.graph.episodes(user_id="ann", status="pending")) == 1  # still gathering


def test_a_batch_judges_its_own_repeats_and_contradictions(make: Any, llm: ScriptedLLM) -> None:
    """Facts of the batch's earlier messages are judged too, and only earlier ones."""
    memory = make()
    llm.answers += [
        {"messages": [
            {"index": 0, "facts": [fact("E1", "LIKES", "sushi", "Jane Smith likes sushi.")]},
            {"index": 1, "facts": [fact("E1", "OWNS", "Honda Civic", "Jane Smith owns a Honda Civic.")]},
            {"index": 2, "facts": [fact("E1", "ENJOYS", "sushi", "Jane Smith enjoys sushi a lot."),
                                   fact("E1", "SOLD", "Honda Civic", "Jane Smith sold her Honda Civic.")]}]},
        {"verdicts": [{"new": "N1", "duplicate_of": None, "contradicts": []},
                      {"new": "N2", "duplicate_of": "X1", "contradicts": []},
                      {"new": "N3", "duplicate_of": None, "contradicts": ["X2"]}]},
        summary(),
    ]
    memory.thread.add_messages("jane-t", messages=[said("I like sushi."), said("I drive a Honda Civic."),
                                                   said("Sushi is great. Oh, and I sold my Civic.", DAY2)])
    memory.wait_until_processed("jane")

    resolve = next(m[-1]["content"] for m, _, name, _ in llm.asked if name == "resolve")
    assert "N1 Jane Smith OWNS Honda Civic" in resolve and "compare with: X1\n" in resolve  # not later facts
    facts = {f.relation: f for f in memory.graph.facts(user_id="jane")}
    assert "ENJOYS" not in facts and len(facts["LIKES"].episodes) == 2
    assert facts["OWNS"].invalid_at is not None and facts["SOLD"].invalid_at is None
    learned = next(m[-1]["content"] for m, _, name, _ in llm.asked if name == "summarize")
    assert "enjoys sushi" not in learned  # a repeat is not news for the summary


def test_known_entities_name_the_user_once(make: Any, llm: ScriptedLLM) -> None:
    memory = make()
    llm.answers += [lives_in("Denver"), summary(), NOTHING]
    memory.thread.add_messages("jane-t", messages=[said("I'm Jane Smith and I live in Denver.")])
    memory.wait_until_processed("jane")
    memory.thread.add_messages("jane-t", messages=[said("Jane Smith here again, still in Denver.", DAY2)])
    memory.wait_until_processed("jane")
    prompt = llm.asked[-1][0][-1]["content"]
    known = prompt.split("Known entities:\n", 1)[1].split("\nKnown facts:", 1)[0].splitlines()
    assert known[0] == "E1 Jane Smith" and sum("Jane Smith" in k for k in known) == 1
    assert "E2 Denver" in known


def test_usage_by_purpose_and_per_episode(make: Any, llm: ScriptedLLM) -> None:
    memory = make()
    llm.answers += [lives_in("Denver"), summary("Jane Smith lives in Denver.")]
    sent = memory.thread.add_messages("jane-t", messages=[said("I live in Denver."), said("Nice weather today.")])
    memory.wait_until_processed("jane")
    usage = memory.graph.usage(user_id="jane")
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens) == (2, 200, 20)
    assert usage.calls_by_purpose == {"extract": 1, "summarize": 1}
    share = memory.graph.usage(user_id="jane", episode_uuid=sent[0].uuid)
    assert share.calls == 1 and share.calls_by_purpose == {"extract": 0.5, "summarize": 0.5}
    assert memory.user.get("jane").summary == "Jane Smith lives in Denver."


def test_a_failed_call_is_accounted_and_the_episode_kept(make: Any, llm: ScriptedLLM) -> None:
    from agent_memory.errors import ProviderError

    memory = make()
    llm.answers += [ProviderError("the endpoint is down")]
    memory.thread.add_messages("jane-t", messages=[said("I live in Denver.")])
    memory.wait_until_processed("jane")
    (ep,) = memory.graph.episodes(user_id="jane", status="failed")
    assert ep.error == "ProviderError: the endpoint is down"
    usage = memory.graph.usage(user_id="jane")
    assert (usage.calls, usage.failed_calls) == (1, 1)


def test_chunks_get_their_own_context_and_fail_alone(llm: ScriptedLLM) -> None:
    from agent_memory.errors import ProviderError

    config = MemoryConfig(home=None, vector_backend="exact", llm_debounce_seconds=30.0, llm_batch_messages=2)
    with Memory.ephemeral(llm=llm, embedder=HashEmbedder(), config=config) as memory:
        memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        memory.thread.create(thread_id="t", user_id="jane")
        llm.answers += [lives_in("Denver"), summary()]
        memory.thread.add_messages("t", messages=[said("I live in Denver.")])
        memory.wait_until_processed("jane")
        llm.answers += [NOTHING, ProviderError("extract: the server failed with HTTP 500")]
        sent = memory.thread.add_messages("t", messages=[
            said("Hello!", DAY2), said("How are you?", DAY2), said("Denver is sunny today.", DAY2)])
        memory.wait_until_processed("jane")

        first, second = [m[-1]["content"] for m, _, name, _ in llm.asked[2:]]
        assert "Denver" not in first.split("Messages:")[0]  # nothing near "Hello! How are you?"
        assert "E2 Denver" in second  # the chunk that mentions Denver is shown the known Denver
        assert [e.uuid for e in memory.graph.episodes(user_id="jane", status="failed")] == [sent[2].uuid]
        assert len(memory.graph.episodes(user_id="jane", status="processed")) == 3


def test_close_drains_the_queue_and_accounts_for_it(tmp_path: Any, llm: ScriptedLLM) -> None:
    config = MemoryConfig(vector_backend="exact", llm_debounce_seconds=30.0)
    llm.answers += [NOTHING]
    with Memory(tmp_path, llm=llm, embedder=HashEmbedder(), config=config) as memory:
        memory.user.add(user_id="jane", first_name="Jane")
        memory.thread.create(thread_id="t", user_id="jane")
        memory.thread.add_messages("t", messages=[said("Hello there.")])
    with Memory(tmp_path, llm=False, embedder=HashEmbedder(), config=config) as again:
        assert [e.status.value for e in again.graph.episodes(user_id="jane")] == ["processed"]
        assert again.graph.usage(user_id="jane").calls_by_purpose == {"extract": 1}


def test_one_client_serves_one_open_memory(llm: ScriptedLLM) -> None:
    from agent_memory.errors import ConfigError

    first = Memory.ephemeral(llm=llm, embedder=HashEmbedder())
    with pytest.raises(ConfigError, match="another open Memory"):
        Memory.ephemeral(llm=llm, embedder=HashEmbedder())
    first.close()
    Memory.ephemeral(llm=llm, embedder=HashEmbedder()).close()  # free again once the first is closed


def test_memory_reports_its_model_and_mode(llm: ScriptedLLM) -> None:
    with Memory.ephemeral(llm=llm, embedder=HashEmbedder()) as memory:
        assert memory.llm is llm and memory.config.ingest_mode == "background"
    inline = MemoryConfig(home=None, vector_backend="exact", ingest_mode="inline")
    llm2 = ScriptedLLM()
    with Memory.ephemeral(llm=llm2, embedder=HashEmbedder(), config=inline) as memory:
        assert memory.config.ingest_mode == "inline"  # an explicit choice stands
    with Memory.ephemeral(llm=None, embedder=HashEmbedder()) as memory:
        assert memory.llm is None and memory.config.ingest_mode == "inline"


def test_messages_arriving_during_a_run_wait_for_the_next_run(make: Any, llm: ScriptedLLM) -> None:
    memory = make()

    def extract_and_meanwhile_a_message_arrives(messages: Any, schema: Any, name: str) -> dict[str, Any]:
        memory.thread.add_messages("jane-t", messages=[said("I also work at Acme Corp.")])
        return lives_in("Denver")

    llm.answers += [extract_and_meanwhile_a_message_arrives,
                    {"messages": [{"index": 0, "facts": [fact("E1", "WORKS_AT", "Acme Corp", "Jane works at Acme.")]}]},
                    summary()]
    memory.thread.add_messages("jane-t", messages=[said("I live in Denver.")])
    memory.wait_until_processed("jane")
    # two runs, not one chasing the other; one summary for both, when the caller waits
    assert llm.names == ["extract", "extract", "summarize"]
    assert messages_in(llm) == [1, 1]
    assert not memory.graph.episodes(user_id="jane", status="pending")


def test_a_full_batch_runs_without_waiting_for_the_window(llm: ScriptedLLM) -> None:
    """A human-paced chat: the window is long, but min_batch messages start a run at once."""
    config = MemoryConfig(home=None, vector_backend="exact", llm_debounce_seconds=3600, llm_min_batch=4)
    with Memory.ephemeral(llm=llm, embedder=HashEmbedder(), config=config) as memory:
        memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        memory.thread.create(thread_id="t", user_id="jane")
        llm.answers += [NOTHING]
        for i in range(2):
            memory.thread.add_messages("t", messages=[said(f"question {i}"), Message(role="assistant", content="ok")])
        deadline = time.monotonic() + 10
        while memory.graph.episodes(user_id="jane", status="pending") and time.monotonic() < deadline:
            time.sleep(0.05)  # nobody waits: the fourth message itself triggers the run
        assert messages_in(llm) == [4]


def test_the_summary_waits_for_enough_change_or_a_wait(llm: ScriptedLLM) -> None:
    config = MemoryConfig(home=None, vector_backend="exact", ingest_mode="inline", llm_summary_min_facts=2)
    with Memory.ephemeral(llm=llm, embedder=HashEmbedder(), config=config) as memory:
        memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        memory.thread.create(thread_id="t", user_id="jane")
        llm.answers += [lives_in("Boston")]
        memory.thread.add_messages("t", messages=[said("I live in Boston.")])
        assert llm.names == ["extract"]  # one changed fact: the summary can wait
        llm.answers += [lives_in("Denver"), summary("Jane Smith lives in Denver.")]
        memory.thread.add_messages("t", messages=[said("I moved to Denver.", DAY2)])
        assert llm.names == ["extract", "extract", "summarize"]  # Boston closed + Denver new: rewrite it
        assert memory.user.get("jane").summary == "Jane Smith lives in Denver."


def test_summary_questions_are_asked_with_the_current_facts(llm: ScriptedLLM) -> None:
    """The model's summary call carries the questions it must answer and the facts that answer them."""
    config = MemoryConfig(home=None, vector_backend="exact", summary_questions=("Where does the user live?",))
    with Memory.ephemeral(llm=llm, embedder=HashEmbedder(), config=config) as memory:
        memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        memory.thread.create(thread_id="t", user_id="jane")
        llm.answers += [lives_in("Denver"), summary("Jane Smith. Where does the user live? Denver.")]
        memory.thread.add_messages("t", messages=[said("I live in Denver.")])
        memory.wait_until_processed("jane")
        (asked,) = [m for m, _, name, _ in llm.asked if name == "summarize"]
        assert "Questions the summary must answer:\n- Where does the user live?" in asked[-1]["content"]
        assert "Current facts:\n- Jane Smith lives in Denver." in asked[-1]["content"]
        assert "must also answer each listed question" in asked[0]["content"]
        assert memory.user.get("jane").summary == "Jane Smith. Where does the user live? Denver."
