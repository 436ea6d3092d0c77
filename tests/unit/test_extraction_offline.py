"""OfflineExtractor: what a user would notice in their graph after chatting (real spaCy, offline)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agent_memory.extraction import (
    ExtractedFact,
    Extraction,
    ExtractionContext,
    Extractor,
    OfflineExtractor,
)
from agent_memory.models import Episode, EpisodeSource, Role

pytestmark = pytest.mark.slow

REF = datetime(2024, 3, 2, 10, 0, tzinfo=timezone.utc)
CTX = ExtractionContext(user_id="jane", user_name="Jane Smith", user_aliases=["Jane", "jane"])


@pytest.fixture(scope="module")
def ex() -> OfflineExtractor:
    return OfflineExtractor()


def episode(
    text: str,
    *,
    role: Role | None = Role.user,
    name: str | None = None,
    source: EpisodeSource = EpisodeSource.message,
    ref: datetime = REF,
) -> Episode:
    return Episode(user_id="jane", source=source, role=role, name=name, content=text, reference_time=ref)


def run(ex: OfflineExtractor, text: str, **kw: object) -> Extraction:
    return ex.extract([episode(text, **kw)], CTX)[0]  # type: ignore[arg-type]


def find(x: Extraction, relation: str, target: str | None = None) -> list[ExtractedFact]:
    return [f for f in x.facts if f.relation == relation and (target is None or f.target == target)]


def triples(x: Extraction) -> set[tuple[str, str, str]]:
    return {(f.source, f.relation, f.target) for f in x.facts}


def assert_entities_cover_facts(x: Extraction) -> None:
    names = {e.name: e.type for e in x.entities}
    for f in x.facts:
        assert f.source in names and f.target in names, f"{f} endpoints missing from {names}"


def close_to(value: datetime | None, expected: datetime, slack: timedelta = timedelta(days=1)) -> bool:
    return value is not None and value.tzinfo is not None and abs(value - expected) <= slack


# -- the headline example ------------------------------------------------------------------------


def test_moved_and_works_with_a_missed_name(ex: OfflineExtractor) -> None:
    x = run(ex, "I moved to Denver last week and I work at Acme Corp with Priya.")
    lives = find(x, "LIVES_IN", "Denver")
    assert len(lives) == 1 and lives[0].source == "Jane Smith" and lives[0].target_type == "Place"
    assert close_to(lives[0].valid_at, REF - timedelta(days=7))
    assert lives[0].fact == "Jane Smith lives in Denver."  # the state the move left, dated from it
    assert lives[0].attributes["change"] == "moved"
    works = find(x, "WORKS_AT", "Acme Corp")
    assert len(works) == 1 and works[0].target_type == "Organization" and works[0].valid_at is None
    assert {"Priya": "Person"}.items() <= {e.name: e.type for e in x.entities}.items()
    assert_entities_cover_facts(x)


# -- one relation per statement ------------------------------------------------------------------

CASES = [
    ("I'm a nurse.", "JOB_TITLE", "nurse", "Jane Smith is a nurse."),
    ("I work as a teacher.", "JOB_TITLE", "teacher", "Jane Smith works as a teacher."),
    ("My favorite book is Dune.", "FAVORITE_BOOK", "Dune", "Jane Smith's favorite book is Dune."),
    ("Dune is my favourite book.", "FAVORITE_BOOK", "Dune", "Jane Smith's favorite book is Dune."),
    ("I love pottery.", "LIKES", "pottery", "Jane Smith loves pottery."),
    ("I enjoy playing chess.", "LIKES", "playing chess", "Jane Smith enjoys playing chess."),
    ("I prefer tea over coffee.", "PREFERS", "tea", None),
    ("I hate mornings.", "DISLIKES", "mornings", "Jane Smith hates mornings."),
    ("I don't like olives.", "DISLIKES", "olives", "Jane Smith doesn't like olives."),
    ("I have a dog named Max.", "HAS", "Max", "Jane Smith has a dog named Max."),
    ("I own a Tesla.", "OWNS", "Tesla", "Jane Smith owns a Tesla."),
    ("I'm married to Tom.", "MARRIED_TO", "Tom", "Jane Smith is married to Tom."),
    ("I got divorced.", "RELATIONSHIP_STATUS", "divorced", "Jane Smith is divorced."),
    ("I'm single.", "RELATIONSHIP_STATUS", "single", "Jane Smith is single."),
    ("I'm on the Pro plan.", "HAS_PLAN", "Pro", "Jane Smith is on the Pro plan."),
    ("I upgraded to the Business plan.", "HAS_PLAN", "Business", "Jane Smith is on the Business plan."),
    ("I study at MIT.", "STUDIES_AT", "MIT", "Jane Smith studies at MIT."),
    ("I relocated to Austin.", "LIVES_IN", "Austin", "Jane Smith lives in Austin."),
    ("We live in Berlin.", "LIVES_IN", "Berlin", "Jane Smith lives in Berlin."),
    ("I started working at Stripe.", "WORKS_AT", "Stripe", "Jane Smith started working at Stripe."),
    ("My sister Ana lives in Lisbon.", "HAS_SISTER", "Ana", "Ana is Jane Smith's sister."),
    ("Ana is my sister.", "HAS_SISTER", "Ana", "Ana is Jane Smith's sister."),
]


@pytest.mark.parametrize(("text", "relation", "target", "sentence"), CASES)
def test_statement_yields_the_fact(ex: OfflineExtractor, text: str, relation: str, target: str,
                                   sentence: str | None) -> None:
    x = run(ex, text)
    got = find(x, relation, target)
    assert len(got) == 1, f"{text!r} -> {triples(x)}"
    assert got[0].source == "Jane Smith"
    if sentence:
        assert got[0].fact == sentence
    assert not got[0].ends
    assert_entities_cover_facts(x)


def test_types_come_from_the_statement_not_only_from_ner(ex: OfflineExtractor) -> None:
    # spaCy's small model calls "Dune" a PERSON; as a favourite book it is a Work.
    assert find(run(ex, "My favorite book is Dune."), "FAVORITE_BOOK")[0].target_type == "Work"
    assert find(run(ex, "I have a dog named Max."), "HAS")[0].target_type == "Animal"
    assert find(run(ex, "I'm married to Tom."), "MARRIED_TO")[0].target_type == "Person"


def test_third_person_facts_and_the_named_subject(ex: OfflineExtractor) -> None:
    x = run(ex, "Caroline attended an LGBTQ support group.")
    assert ("Caroline", "ATTENDED", "LGBTQ support group") in triples(x)
    x = run(ex, "My sister Ana lives in Lisbon.")
    assert ("Ana", "LIVES_IN", "Lisbon") in triples(x)


def test_lists_give_one_fact_each(ex: OfflineExtractor) -> None:
    x = run(ex, "I love pottery and hiking.")
    assert {f.target for f in find(x, "LIKES")} == {"pottery", "hiking"}


def test_a_habit_keeps_the_place_or_topic_that_says_what_it_is(ex: OfflineExtractor) -> None:
    # a trait or habit (issue 15's open-domain questions): the phrase after the verb belongs to it
    habits = {
        "I love hiking on weekends.": "Jane Smith loves hiking on weekends.",
        "I love learning about different cultures.": "Jane Smith loves learning about different cultures.",
        "I love experimenting in the kitchen.": "Jane Smith loves experimenting in the kitchen.",
        "I love traveling too.": "Jane Smith loves traveling.",
    }
    for text, sentence in habits.items():
        assert [f.fact for f in find(run(ex, text), "LIKES")] == [sentence], text
    # a light verb or a phrase that points elsewhere still says too little
    for text in ("I love going back to it.", "I love knowing that you are safe.", "I love getting lost in books.",
                 "I love hanging out with them."):
        assert find(run(ex, text), "LIKES") == [], f"{text!r} -> {triples(run(ex, text))}"


# -- endings -----------------------------------------------------------------------------------

ENDINGS = [
    ("I no longer work at Acme.", "WORKS_AT", "Acme"),
    ("I don't work at Acme anymore.", "WORKS_AT", "Acme"),
    ("I quit my job at Acme.", "WORKS_AT", "Acme"),
    ("I left Acme.", "WORKS_AT", "Acme"),
    ("I moved out of Boston.", "LIVES_IN", "Boston"),
    ("I don't live in Boston anymore.", "LIVES_IN", "Boston"),
    ("I don't like olives anymore.", "LIKES", "olives"),
]


@pytest.mark.parametrize(("text", "relation", "target"), ENDINGS)
def test_endings_close_the_positive_relation(
    ex: OfflineExtractor, text: str, relation: str, target: str
) -> None:
    x = run(ex, text)
    assert [(f.relation, f.target, f.ends) for f in x.facts] == [(relation, target, True)], triples(x)
    fact = x.facts[0]
    assert fact.invalid_at == REF and fact.valid_at is None
    assert fact.source == "Jane Smith"


def test_a_dated_ending_is_closed_at_that_date(ex: OfflineExtractor) -> None:
    x = run(ex, "I quit my job at Acme last month.")
    (fact,) = x.facts
    assert fact.ends and close_to(fact.invalid_at, REF - timedelta(days=29), timedelta(days=3))


def test_moving_from_one_city_to_another(ex: OfflineExtractor) -> None:
    x = run(ex, "I moved from Boston to Denver in 2021.")
    # the ending first, so ingest closes Boston before Denver starts (never a second, closed Boston)
    assert [(f.target, f.ends) for f in find(x, "LIVES_IN")] == [("Boston", True), ("Denver", False)]
    assert find(x, "LIVES_IN", "Denver")[0].valid_at == datetime(2021, 1, 1, tzinfo=timezone.utc)


# -- what must yield nothing -----------------------------------------------------------------------

NOTHING = [
    "Do you live in Denver?",
    "Where do you work these days",
    "If I moved to Denver, I would be happy.",
    "I want to visit Japan.",
    "I might join Google.",
    "Maybe I'll move to Austin.",
    "I'm going to move to Denver next month.",
    "I love it!",
    "That's something I love.",
    "I have a question about my bill.",
    "I'm not married.",
    "I don't live in Boston.",
]


@pytest.mark.parametrize("text", NOTHING)
def test_questions_hypotheticals_and_pronouns_yield_no_fact(ex: OfflineExtractor, text: str) -> None:
    assert run(ex, text).facts == []


def test_a_question_still_names_its_entities(ex: OfflineExtractor) -> None:
    x = run(ex, "Do you live in Denver?")
    assert x.facts == [] and ("Denver", "Place") in {(e.name, e.type) for e in x.entities}


# -- who is speaking ----------------------------------------------------------------------------------


def test_named_message_speaks_as_its_name(ex: OfflineExtractor) -> None:
    x = run(ex, "I work at Initech and I moved to Seattle in 2021.", name="Bob")
    assert triples(x) == {("Bob", "WORKS_AT", "Initech"), ("Bob", "LIVES_IN", "Seattle")}
    assert find(x, "LIVES_IN")[0].fact == "Bob lives in Seattle."


def test_a_name_that_is_the_users_alias_is_the_user(ex: OfflineExtractor) -> None:
    assert triples(run(ex, "I'm a teacher.", name="jane")) == {("Jane Smith", "JOB_TITLE", "teacher")}
    x = run(ex, "Jane moved to Denver in 2019.", source=EpisodeSource.text, role=None)
    assert triples(x) == {("Jane Smith", "LIVES_IN", "Denver")}
    assert "Jane" not in {e.name for e in x.entities}


def test_assistant_first_and_third_person_are_skipped_but_named_entities_kept(ex: OfflineExtractor) -> None:
    text = "I live in Paris and I love cooking. Caroline attended an LGBTQ support group."
    x = run(ex, text, role=Role.assistant)
    assert triples(x) == set()  # an unnamed assistant speaks for nobody, and Caroline is not tied to the user
    assert {"Paris", "Caroline"} <= {e.name for e in x.entities}


def test_you_in_an_assistant_message_is_the_user(ex: OfflineExtractor) -> None:
    x = run(ex, "You're on the Pro plan. You mentioned you live in Denver.", role=Role.assistant)
    assert triples(x) == {("Jane Smith", "HAS_PLAN", "Pro"), ("Jane Smith", "LIVES_IN", "Denver")}
    assert find(x, "HAS_PLAN")[0].fact == "Jane Smith is on the Pro plan."


def test_a_long_assistant_answer_is_read_up_to_its_limit_but_a_user_message_in_full(ex: OfflineExtractor) -> None:
    filler = "Here is some general advice about budgeting and planning your week. " * 20
    text = "You mentioned you live in Denver. " + filler + "You're on the Pro plan."
    assert triples(run(ex, text, role=Role.assistant)) == {("Jane Smith", "LIVES_IN", "Denver")}
    assert ("Jane Smith", "HAS_PLAN", "Pro") in triples(OfflineExtractor(assistant_chars=None).extract(
        [episode(text, role=Role.assistant)], CTX)[0])
    mine = "I live in Denver. " + filler + "I work at Google."
    assert ("Jane Smith", "WORKS_AT", "Google") in triples(run(ex, mine))


def test_you_in_a_user_message_is_nobody_known(ex: OfflineExtractor) -> None:
    assert run(ex, "You live in Denver. You work at Google.").facts == []


def test_transcript_lines_speak_as_their_prefix(ex: OfflineExtractor) -> None:
    text = "Caroline: I love hiking.\nMelanie: I have two kids and a dog named Oliver."
    x = run(ex, text, source=EpisodeSource.text, role=None)
    assert triples(x) == {("Caroline", "LIKES", "hiking"), ("Melanie", "HAS", "Oliver")}


def test_locomo_turn_is_dated_the_day_before(ex: OfflineExtractor) -> None:
    ref = datetime(2023, 5, 8, 13, 56, tzinfo=timezone.utc)
    text = "Caroline: I went to a LGBTQ support group yesterday and it was so powerful."
    x = run(ex, text, name="Caroline", ref=ref)
    (fact,) = [f for f in x.facts if f.source == "Caroline"]
    assert fact.valid_at is not None and fact.valid_at.date() == (ref - timedelta(days=1)).date()
    assert "support group" in fact.target and fact.fact.startswith("Caroline went to")
    assert " I " not in f" {fact.fact} " and "yesterday" not in fact.fact
    assert all(f.target.lower() not in ("it", "powerful") for f in x.facts)


# -- dates ---------------------------------------------------------------------------------------


def test_dates_resolve_against_the_episode_time(ex: OfflineExtractor) -> None:
    x = run(ex, "I visited Paris in 2019.")
    assert find(x, "VISITED", "Paris")[0].valid_at == datetime(2019, 1, 1, tzinfo=timezone.utc)
    x = run(ex, "I adopted a cat named Luna last month.")
    assert close_to(find(x, "HAS", "Luna")[0].valid_at, REF - timedelta(days=29), timedelta(days=3))


def test_an_unreadable_date_leaves_valid_at_unset(ex: OfflineExtractor) -> None:
    x = run(ex, "I visited Paris this weekend.")
    assert find(x, "VISITED", "Paris")[0].valid_at is None


def test_a_duration_is_not_a_start_date(ex: OfflineExtractor) -> None:
    fact = find(run(ex, "I've been married to Tom for 5 years."), "MARRIED_TO", "Tom")[0]
    assert fact.valid_at is None and fact.fact == "Jane Smith has been married to Tom."


# -- the batch ------------------------------------------------------------------------------------


def test_batch_keeps_order_and_handles_json(ex: OfflineExtractor) -> None:
    eps = [
        episode("I'm a nurse."),
        Episode(user_id="jane", source=EpisodeSource.json, content='{"event_type": "login"}',
                reference_time=REF),
        episode("Do you live in Denver?"),
    ]
    out = ex.extract(eps, CTX)
    assert [x.episode_uuid for x in out] == [e.uuid for e in eps]
    assert find(out[0], "JOB_TITLE") and find(out[1], "LOGIN") and out[2].facts == []


def test_it_is_an_extractor_named_offline_spacy(ex: OfflineExtractor) -> None:
    assert isinstance(ex, Extractor) and ex.name == "offline-spacy"
    assert ex.extract([], CTX) == []


@pytest.mark.slow
def test_work_at_with_a_title_gives_both_facts() -> None:
    from agent_memory.extraction.base import ExtractionContext
    from agent_memory.extraction.offline import OfflineExtractor
    from agent_memory.models import Episode

    ep = Episode(user_id="jane", source="message", role="user", name="Jane Smith",
                 content="I live in Boston and I work at Acme Corp as a product designer.",
                 reference_time="2024-03-01T09:00:00Z")
    [result] = OfflineExtractor().extract([ep], ExtractionContext(user_id="jane", user_name="Jane Smith"))
    got = {(f.relation, f.target) for f in result.facts}
    assert {("LIVES_IN", "Boston"), ("WORKS_AT", "Acme Corp"), ("JOB_TITLE", "product designer")} <= got


def test_names_are_found_in_any_sentence_of_a_long_message(ex: OfflineExtractor) -> None:
    # NER reads only the sentences that may hold a name (with the sentence after each): a name in the
    # middle of small talk, and a greeting's name, keep their types; the small talk yields nothing
    text = ("Thanks, Maria! We love climbing and playing games. It's an awesome way to have a blast. "
            "Honestly it was so much fun. Last week my sister Ana moved to Lisbon. It was sad to see her go.")
    x = run(ex, text, name="Jon")
    types = {e.name: e.type for e in x.entities}
    assert types.get("Maria") == "Person"
    assert types.get("Ana") == "Person"
    assert types.get("Lisbon") == "Place"
    assert ("Ana", "LIVES_IN", "Lisbon") in triples(x)


def test_extraction_leaves_numpys_thread_settings_as_they_were(ex: OfflineExtractor) -> None:
    # spaCy's products run on numpy's BLAS held to one thread while it parses; the caller's numpy
    # keeps its own thread count afterwards
    from threadpoolctl import threadpool_info

    before = [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()]
    x = run(ex, "I moved to Denver in 2019 and I work at Acme Corp.")
    assert ("Jane Smith", "LIVES_IN", "Denver") in triples(x)
    assert [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()] == before
