"""The offline extractor never re-reads our own context block, and its work grows linearly with length."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from agent_memory.extraction import ExtractionContext, OfflineExtractor, offline
from agent_memory.extraction.markup import strip_block_markup
from agent_memory.models import Episode, EpisodeSource, Role

pytestmark = pytest.mark.slow

REF = datetime(2024, 3, 2, 10, 0, tzinfo=timezone.utc)
CTX = ExtractionContext(user_id="jane", user_name="Jane Smith", user_aliases=["Jane"])

BLOCK = """<USER_SUMMARY>
Jane Smith is a designer.
</USER_SUMMARY>
<FACTS>
- Jane Smith lives in Boston (2024-03-01 - present)
- Jane Smith works at Acme Corp (2024-03-01 - 2024-03-05)
</FACTS>
<ENTITIES>
- Acme Corp (Organization): Jane's employer
</ENTITIES>"""


@pytest.fixture(scope="module")
def ex() -> OfflineExtractor:
    return OfflineExtractor()


def _ep(text: str, role: Role = Role.user) -> Episode:
    return Episode(user_id="jane", source=EpisodeSource.message, role=role, content=text, reference_time=REF)


def test_strip_block_markup_removes_tags_headings_and_fact_lines() -> None:
    text = "# EPISODES\n2024-03-02 Sat\nENTITIES (Topic)\n- Jane lives in Boston (2024-03-01 - present)\nHi!"
    assert strip_block_markup(text).strip() == "Hi!"
    assert strip_block_markup(BLOCK + "\nI moved to Denver.").strip() == "I moved to Denver."
    plain = "I moved to Denver on 2024-03-01 (a Friday). # not a heading"
    assert strip_block_markup(plain) == plain
    markdown = ("# USER_SUMMARY\nJane is a designer in Boston.\n\n# FACTS\n"
                "- Jane lives in Boston (2024-03-01 - present)\n# EPISODES\n2024-03-02 Sat\n- Jane: I love hiking.\n"
                "# ENTITIES\n- Acme Corp (Organization)\n"
                "Thanks! By the way, I moved to Denver.")
    assert strip_block_markup(markdown).strip() == "Thanks! By the way, I moved to Denver."


def test_a_reply_quoting_our_block_adds_no_entities_or_facts(ex: OfflineExtractor) -> None:
    reply = ex.extract([_ep("Here is what I know about you:\n" + BLOCK, Role.assistant)], CTX)[0]
    names = {e.name.lower() for e in reply.entities}
    assert not {"facts", "entities", "user_summary", "episodes"} & names
    assert reply.facts == []
    pasted = ex.extract([_ep(BLOCK + "\nI moved to Denver last week.")], CTX)[0]
    assert {(f.relation, f.target) for f in pasted.facts} == {("LIVES_IN", "Denver")}


def test_extraction_reads_the_entities_once_per_message(ex: OfflineExtractor,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Linear work: one pass over a document's entities, whatever its number of sentences."""
    passes: list[int] = []
    clauses: list[Any] = []
    real_dates, real_clauses = offline.date_spans_by_sentence, offline.asserted_clauses

    def count_dates(doc: Any) -> Any:
        passes.append(len(list(doc.sents)))
        return real_dates(doc)

    def check_clauses(sent: Any, voice: Any, mentions: Any, ref: Any, dates: Any = None) -> Any:
        clauses.append(dates)
        return real_clauses(sent, voice, mentions, ref, dates)

    monkeypatch.setattr(offline, "date_spans_by_sentence", count_dates)
    monkeypatch.setattr(offline, "asserted_clauses", check_clauses)
    for n in (5, 60):
        passes.clear()
        clauses.clear()
        text = " ".join(f"I visited Denver on day {i} of May with {i} friends." for i in range(n))
        ex.extract([_ep(text)], CTX)
        assert len(passes) == 1 and passes[0] >= n  # one scan of doc.ents for all n sentences
        assert len(clauses) >= n and all(d is not None for d in clauses)  # no sentence scans doc.ents


def test_a_repeated_sentence_is_parsed_once(ex: OfflineExtractor, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = offline.date_spans_by_sentence
    monkeypatch.setattr(offline, "date_spans_by_sentence", lambda doc: seen.append(len(list(doc.sents))) or real(doc))
    out = ex.extract([_ep("I moved to Denver last week. " * 400)], CTX)[0]
    assert seen == [1]
    assert [(f.relation, f.target) for f in out.facts] == [("LIVES_IN", "Denver")]


def _triples(ex: OfflineExtractor, text: str) -> set[tuple[str, str]]:
    return {(f.relation, f.target) for f in ex.extract([_ep(text)], CTX)[0].facts}


def test_a_long_message_is_read_up_to_message_chars_and_no_further() -> None:
    filler = " ".join(f"The {n}th paragraph of the report is about the weather." for n in range(20))
    text = f"I work at Initech. {filler} I moved to Denver last week."
    assert len(text) > 1000
    capped = OfflineExtractor(message_chars=500)
    assert ("WORKS_AT", "Initech") in _triples(capped, text)
    assert ("LIVES_IN", "Denver") not in _triples(capped, text)  # beyond what the extractor reads
    assert ("LIVES_IN", "Denver") in _triples(OfflineExtractor(message_chars=None), text)


def test_a_maximal_message_is_processed_and_its_last_sentence_found(real_extractor: OfflineExtractor) -> None:
    from agent_memory import Memory, Message
    from agent_memory.testing.fakes import HashEmbedder
    from benchmarks.long_message import prose

    with Memory.ephemeral(embedder=HashEmbedder(), extractor=real_extractor) as memory:
        memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        memory.thread.create(thread_id="t", user_id="jane")
        text = prose(memory.config.max_content_chars - 60) + " Zebrafish breeding is my weekend hobby in Quito."
        memory.thread.add_messages("t", messages=[Message(role="user", content=text)])
        episodes = memory.graph.episodes(user_id="jane")
        assert [e.status.value for e in episodes] == ["processed"]
        assert memory.graph.facts(user_id="jane")  # the head of the message was read
        hits = memory.graph.search(user_id="jane", query="zebrafish breeding Quito", scope="episodes")
        assert hits and hits[0].episode is not None and hits[0].episode.content == text


def test_a_bare_count_tagged_as_a_date_is_not_a_date() -> None:
    from agent_memory.extraction.dates import parse_date_span

    assert parse_date_span("1005", REF) is None  # dateparser would read the year 1005
    assert parse_date_span("37", REF) is None
    assert parse_date_span("2019", REF) == datetime(2019, 1, 1, tzinfo=timezone.utc)
    assert parse_date_span("3/4/2024", REF) is not None
