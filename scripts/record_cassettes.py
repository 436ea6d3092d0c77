"""Record the LLM test cassettes (``tests/llm/cassettes/``).

    python scripts/record_cassettes.py            # against the scripted local server (the default)
    python scripts/record_cassettes.py --live     # against a real endpoint: OPENAI_API_KEY / OPENAI_BASE_URL

Both modes run ``pytest tests/llm --record-mode=rewrite`` in this process, so the requests in the
cassettes are exactly the ones the tests make.

- Scripted (default): starts :class:`ScriptedServer` on 127.0.0.1:18080 and serves the answers
  authored below (what a capable model would plausibly answer to each prompt, written by hand),
  including the staged failures: 429s with ``retry-after: 1``, an HTTP 500 to ``json_schema``
  like llama.cpp's server, malformed output. The model is named ``gpt-4o-mini`` (or the local model
  a test names), but no model ran.
- Live: re-records the tests that a real endpoint can answer (those not marked ``scripted``) with
  ``AGENT_MEMORY_LLM_MODEL`` (default gpt-4o-mini); the staged-failure cassettes are kept. A real
  model answers differently from the script, so check that the re-recorded tests still pass.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from scripted_openai_server import DEFAULT_PORT, Rule, Scripted, ScriptedServer  # noqa: E402

CASSETTES = ROOT / "tests" / "llm" / "cassettes"


def _compact(data: object) -> str:
    """OpenAI's structured outputs come back as compact JSON."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _spaced(data: object) -> str:
    """Local models in json_object mode tend to answer with spaces after separators."""
    return json.dumps(data, ensure_ascii=False)


def _fact(source: str, relation: str, target: str, fact: str, valid_at: str | None = None,
          invalid_at: str | None = None, ends: bool = False) -> dict[str, object]:
    return {"source": source, "relation": relation, "target": target, "fact": fact, "valid_at": valid_at,
            "invalid_at": invalid_at, "ends": ends}


def _ent(name: str, type_: str, summary: str | None = None) -> dict[str, object]:
    return {"name": name, "type": type_, "summary": summary}


SEED = {"messages": [
    {"index": 0, "entities": [
        _ent("Jane Smith", "Person", "the user; a product designer at Acme Corp who lives in Boston"),
        _ent("Boston", "Place", "city where Jane Smith lives"),
        _ent("Acme Corp", "Organization", "company where Jane Smith works as a product designer")],
     "facts": [_fact("Jane Smith", "LIVES_IN", "Boston", "Jane Smith lives in Boston."),
               _fact("Jane Smith", "WORKS_AT", "Acme Corp", "Jane Smith works at Acme Corp."),
               _fact("Jane Smith", "JOB_TITLE", "product designer",
                     "Jane Smith is a product designer at Acme Corp.")]},
    {"index": 2, "entities": [
        _ent("Octavia Butler", "Person", "Jane Smith's favorite author"),
        _ent("reading", "Activity", "Jane Smith reads a lot outside work")],
     "facts": [_fact("Jane Smith", "FAVORITE_AUTHOR", "Octavia Butler",
                     "Jane Smith's favorite author is Octavia Butler."),
               _fact("Jane Smith", "ENJOYS", "reading", "Jane Smith reads a lot outside work.")]},
    {"index": 4, "entities": [
        _ent("Kindred", "Work", "novel by Octavia Butler that Jane Smith finds amazing"),
        _ent("Parable of the Sower", "Work", "novel Jane Smith is reading")],
     "facts": [_fact("Jane Smith", "HAS_READ", "Kindred", "Jane Smith has read Kindred and finds it amazing."),
               _fact("Kindred", "WRITTEN_BY", "Octavia Butler", "Kindred is a novel by Octavia Butler."),
               _fact("Jane Smith", "IS_READING", "Parable of the Sower",
                     "Jane Smith is reading Parable of the Sower.")]},
]}

LATER = {"messages": [
    {"index": 0, "entities": [_ent("Denver", "Place", "city Jane Smith moved to in early June 2024"),
                              _ent("E3", "Organization", "Jane Smith still works there, remotely")],
     "facts": [_fact("E1", "LIVES_IN", "Denver", "Jane Smith lives in Denver.", "2024-06-05"),
               _fact("E1", "WORKS_AT", "E3", "Jane Smith works remotely for Acme Corp.")]},
    {"index": 2, "entities": [_ent("E5", "Work", "Jane Smith finished it on a flight in June 2024"),
                              _ent("Fledgling", "Work", "novel Jane Smith started reading in June 2024")],
     "facts": [_fact("E1", "FINISHED_READING", "E5", "Jane Smith finished reading Parable of the Sower.", "2024-06-12"),
               _fact("E1", "IS_READING", "E5", "Jane Smith is no longer reading Parable of the Sower.", None,
                     "2024-06-12", True),
               _fact("E1", "IS_READING", "Fledgling", "Jane Smith is reading Fledgling.", "2024-06-12")]},
]}

# Deliberately wrong: E7 was never offered (only E1, E2); the extractor must drop it.
INVENTED_ID = {"messages": [
    {"index": 0, "entities": [_ent("Priya", "Person", "Jane Smith's sister"), _ent("E2", "Place")],
     "facts": [_fact("E1", "SIBLING_OF", "E7", "Priya is Jane Smith's sister."),
               _fact("Priya", "VISITED", "E2", "Priya visited Jane Smith in Denver.")]}]}

MISO = {"messages": [{"index": 0, "entities": [_ent("Miso", "Animal", "Jane Smith's cat, adopted on 2024-06-14")],
                      "facts": [_fact("Jane Smith", "HAS_PET", "Miso", "Jane Smith has a cat named Miso.",
                                      "2024-06-14")]}]}

GREEN_TEA = {"messages": [{"index": 0, "entities": [
    _ent("green tea", "Preference", "what Jane Smith drinks instead of coffee since spring 2024"),
    _ent("coffee", "Preference", "Jane Smith stopped drinking it in spring 2024")],
    "facts": [_fact("Jane Smith", "DRINKS", "green tea", "Jane Smith drinks green tea instead of coffee."),
              _fact("Jane Smith", "DRINKS", "coffee", "Jane Smith no longer drinks coffee.", None, None, True)]}]}

OOLONG = {"messages": [{"index": 0, "entities": [_ent("Oolong", "Preference", "Jane Smith's favorite tea")],
                        "facts": [_fact("Jane Smith", "FAVORITE_TEA", "Oolong",
                                        "Jane Smith's favorite tea is oolong.")]}]}

# A small local model renaming keys (object for target) and leaving out the fact sentence.
JAZZ_BAD = {"messages": [{"index": 0, "entities": [{"name": "John Coltrane", "type": "Person"},
                                                   {"name": "jazz", "type": "Preference"}],
                          "facts": [{"source": "Jane Smith", "relation": "LISTENS_TO", "object": "John Coltrane"}]}]}
JAZZ_GOOD = {"messages": [{"index": 0, "entities": [
    _ent("John Coltrane", "Person", "jazz saxophonist Jane Smith mostly listens to"), _ent("jazz", "Preference")],
    "facts": [_fact("Jane Smith", "LIKES", "jazz", "Jane Smith has been getting into jazz lately."),
              _fact("Jane Smith", "LISTENS_TO", "John Coltrane", "Jane Smith mostly listens to John Coltrane.")]}]}

BIRTHDAY_PROSE = ("Here is the extracted information:\n\n- Jane Smith's father turned 60.\n"
                  "- The family celebrated his birthday in Portland on Saturday, 2024-05-11.")
BIRTHDAY_BAD = {"messages": [{"index": 0, "entities": [{"name": "Jane Smith's father", "type": "Person"},
                                                       {"name": "Portland", "type": "Place"}],
                              "facts": [{"subject": "Jane Smith's father", "predicate": "CELEBRATED",
                                         "object": "60th birthday", "date": "2024-05-11"}]}]}

VERDICTS = {"verdicts": [{"new": "N1", "duplicate_of": None, "contradicts": ["X1"]},
                         {"new": "N2", "duplicate_of": "X3", "contradicts": []},
                         {"new": "N3", "duplicate_of": None, "contradicts": []}]}

SUMMARY = {"summary": ("Jane Smith is a product designer at Acme Corp who works remotely from Denver, where she "
                       "moved in June 2024. She reads a lot; her favorite author is Octavia Butler, and after "
                       "finishing Parable of the Sower she is now reading Fledgling."),
           "observations": [{"key": "work_style", "text": "Works remotely for Acme Corp.", "remove": False},
                            {"key": "reading_habit", "text": "Reads a lot outside work, often on flights; is "
                             "working through Octavia Butler's novels.", "remove": False}]}


# -- Memory(llm=...) end to end (tests/llm/test_memory_llm.py): what the wired path sends ----------
# The seed tutorial as one background batch (8 messages: 2 threads, Jane and the assistant); Jane
# is the only known entity (E1). "love hiking" and "really enjoy hiking" come back as different
# relations, so only the resolution call can tell they say the same thing.
WIRED_SEED = {"messages": [
    {"index": 0, "entities": [_ent("Boston", "Place", "city where Jane Smith lives"),
                              _ent("Acme Corp", "Organization",
                                   "company where Jane Smith works as a product designer")],
     "facts": [_fact("E1", "LIVES_IN", "Boston", "Jane Smith lives in Boston."),
               _fact("E1", "WORKS_AT", "Acme Corp", "Jane Smith works at Acme Corp."),
               _fact("E1", "JOB_TITLE", "product designer", "Jane Smith is a product designer at Acme Corp.")]},
    {"index": 2, "entities": [_ent("Octavia Butler", "Person", "Jane Smith's favorite author"),
                              _ent("hiking", "Activity", "Jane Smith loves hiking on weekends")],
     "facts": [_fact("E1", "FAVORITE_AUTHOR", "Octavia Butler", "Jane Smith's favorite author is Octavia Butler."),
               _fact("E1", "LOVES", "hiking", "Jane Smith loves hiking on weekends.")]},
    {"index": 4, "entities": [_ent("Denver", "Place", "city Jane Smith moved to in March 2024")],
     "facts": [_fact("E1", "LIVES_IN", "Denver", "Jane Smith lives in Denver.", "2024-03-13")]},
    {"index": 6, "entities": [_ent("hiking", "Activity", "Jane Smith enjoys hiking in the mountains")],
     "facts": [_fact("E1", "ENJOYS", "hiking", "Jane Smith enjoys hiking in the mountains.")]},
]}
# N1 "loves hiking" is compared with the day-1 facts before it, N2 "enjoys hiking" with the batch's
# earlier facts, "loves hiking" (X4) first.
WIRED_VERDICTS = {"verdicts": [{"new": "N1", "duplicate_of": None, "contradicts": []},
                               {"new": "N2", "duplicate_of": "X4", "contradicts": []}]}
WIRED_SUMMARY = {"summary": ("Jane Smith is a product designer at Acme Corp. She moved from Boston to Denver in March "
                             "2024. Her favorite author is Octavia Butler, and she loves hiking on weekends. She is on "
                             "the Pro plan; her latest payment of 49.0 for it failed."),
                 "observations": [{"key": "weekend_hiking", "text": "Goes hiking on weekends.", "remove": False},
                                  {"key": "favorite_author", "text": "Her favorite author is Octavia Butler.",
                                   "remove": False}]}
WIRED_QUESTION = {"messages": []}  # a question and a request: nothing to remember

# A small local model in json_object mode: prose, then renamed keys (both fail), then, on retry_failed, a good answer.
SHELTER_PROSE = ("Sure! Here is what I found:\n- Jane Smith volunteers at the Denver Animal Shelter.\n"
                 "- She goes there on Sundays.")
SHELTER_BAD = {"messages": [{"index": 0, "entities": [{"name": "Denver Animal Shelter", "type": "Organization"}],
                             "facts": [{"subject": "Jane Smith", "predicate": "VOLUNTEERS_AT",
                                        "object": "Denver Animal Shelter"}]}]}
SHELTER_GOOD = {"messages": [{"index": 0, "entities": [
    _ent("Denver Animal Shelter", "Organization", "animal shelter where Jane Smith volunteers on Sundays")],
    "facts": [_fact("Jane Smith", "VOLUNTEERS_AT", "Denver Animal Shelter",
                    "Jane Smith volunteers at the Denver Animal Shelter on Sundays.", "2024-04-07")]}]}
SHELTER_SUMMARY = {"summary": "Jane Smith volunteers at the Denver Animal Shelter on Sundays.",
                   "observations": [{"key": "volunteering", "text": "Volunteers with animals every Sunday.",
                                     "remove": False}]}

BISCUIT = {"messages": [{"index": 0,
                         "entities": [_ent("Biscuit", "Animal", "Jane Smith's puppy, adopted in April 2024")],
                         "facts": [_fact("E1", "HAS_PET", "Biscuit", "Jane Smith has a puppy named Biscuit.",
                                         "2024-04-06")]}]}
BISCUIT_SUMMARY = {"summary": "Jane Smith has a puppy named Biscuit, adopted in April 2024.",
                   "observations": [{"key": "pet_owner", "text": "Has a puppy named Biscuit.", "remove": False}]}

ROAD_BIKE = {"messages": [{"index": 0, "entities": [
    _ent("road bike", "Product", "bike Jane Smith bought in April 2024"),
    _ent("century ride", "Event", "100-mile ride in June 2024 Jane Smith is training for")],
    "facts": [_fact("Jane Smith", "OWNS", "road bike", "Jane Smith owns a road bike."),
              _fact("Jane Smith", "TRAINING_FOR", "century ride",
                    "Jane Smith is training for a century ride in June.")]}]}
ROAD_BIKE_SUMMARY = {"summary": "Jane Smith owns a road bike and is training for a century ride in June.",
                     "observations": [{"key": "cycling", "text": "Trains seriously on her road bike.",
                                       "remove": False}]}

def _rate_limited() -> Scripted:
    return Scripted(status=429, headers={"retry-after": "1", "x-ratelimit-limit-requests": "3",
                                         "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"},
                    error={"message": "Rate limit reached for gpt-4o-mini in organization org-scripted on requests "
                                      "per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s. Visit "
                                      "https://platform.openai.com/account/rate-limits to learn more.",
                           "type": "requests", "param": None, "code": "rate_limit_exceeded"})


REAL = json.loads((ROOT / "scripts" / "real_answers.json").read_text())


def _real(key: str) -> Scripted:
    """An answer a real model gave (see real_answers.json), served verbatim."""
    return Scripted(content=REAL[key]["content"])


def rules() -> list[Rule]:
    """The scripted answers, keyed by a phrase only that scenario's requests contain."""
    ok = lambda data, fmt=_compact: Scripted(content=fmt(data))  # noqa: E731
    return [
        # what real small models answered (tests/llm/test_real_answers.py), keyed by call
        Rule("[9] 2024-03-30T10:00:00Z Jane Smith (user): Hi again!", [_real("q05_demo_extract")]),
        Rule("[8] 2024-03-20T12:15:00Z Jane Smith (user): Please send invoices by email",
             [_real("q15_demo_extract")]),
        Rule("F1 Done: your account shows the Pro plan now.", [_real("q15_question_extract")]),
        Rule("N1 Jane Smith LIKES hiking (at 2024-03-01): Jane Smith likes hiking on weekends.",
             [_real("q15_demo_resolve")]),
        Rule("N2 Jane Smith FRIEND_OF Ana (at 2024-03-05)", [_real("q05_demo_resolve")]),
        # Memory(llm=...) end to end: first, since the seed batch also says "I work at Acme Corp as a product designer"
        Rule("I really enjoy hiking in the mountains.", [ok(WIRED_SEED)]),
        Rule("N2 Jane Smith ENJOYS hiking (at 2024-03-20)", [ok(WIRED_VERDICTS)]),
        Rule("Jane Smith lives in Boston. (until 2024-03-13)", [ok(WIRED_SUMMARY)]),
        Rule("Any book recommendations for my flight?", [ok(WIRED_QUESTION)]),
        Rule("I started volunteering at the Denver Animal Shelter",
             [Scripted(content=SHELTER_PROSE), ok(SHELTER_BAD, _spaced), ok(SHELTER_GOOD, _spaced)]),
        Rule("Jane Smith volunteers at the Denver Animal Shelter on Sundays.", [ok(SHELTER_SUMMARY, _spaced)]),
        Rule("- Jane Smith started volunteering at the Denver Animal Shelter.", [ok(SHELTER_SUMMARY, _spaced)]),
        Rule("I adopted a puppy named Biscuit", [_rate_limited(), ok(BISCUIT)]),
        Rule("Jane Smith has a puppy named Biscuit.", [ok(BISCUIT_SUMMARY)]),
        Rule("I bought a road bike and", [ok(ROAD_BIKE, _spaced)], rejects_json_schema=True),
        Rule("Jane Smith is training for a century ride in June.", [ok(ROAD_BIKE_SUMMARY, _spaced)],
             rejects_json_schema=True),
        # the component tests
        Rule("I work at Acme Corp as a product designer", [ok(SEED)]),
        Rule("I moved to Denver last week", [ok(LATER)]),
        Rule("My sister Priya visited me", [ok(INVENTED_ID)]),
        Rule("I adopted a cat named Miso", [_rate_limited(), ok(MISO)]),
        Rule("Chicago marathon", [_rate_limited(), _rate_limited()]),
        Rule("I switched from coffee to green tea", [ok(GREEN_TEA, _spaced)], rejects_json_schema=True),
        Rule("Oolong is my favorite tea now", [ok(OOLONG, _spaced)], rejects_json_schema=True),
        Rule("mostly Coltrane", [ok(JAZZ_BAD, _spaced), ok(JAZZ_GOOD, _spaced)]),
        Rule("60th birthday", [Scripted(content=BIRTHDAY_PROSE), ok(BIRTHDAY_BAD, _spaced)]),
        Rule("N1 Jane Smith SOLD Honda Civic", [ok(VERDICTS)]),
        Rule("Jane Smith finished reading Parable of the Sower.", [ok(SUMMARY)]),
    ]


def _run_pytest(marker: str, extra: list[str]) -> int:
    import pytest

    return int(pytest.main([str(ROOT / "tests" / "llm"), "--record-mode=rewrite", "-m", marker, "-q",
                            "-p", "no:cacheprovider", *extra]))


def _check_secrets() -> list[str]:
    """Cassettes that still carry an auth header (they must not)."""
    return [str(p) for p in CASSETTES.rglob("*.yaml")
            if any(h in p.read_text().lower() for h in ("authorization:", "\napi-key:", "bearer sk-"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live", action="store_true", help="record against OPENAI_BASE_URL / OPENAI_API_KEY")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="scripted server port (default 18080)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments, e.g. -k seed")
    args = parser.parse_args(argv)
    if args.live:
        base, key = os.environ.get("OPENAI_BASE_URL"), os.environ.get("OPENAI_API_KEY")
        if not (base or key):
            parser.error("--live needs OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (a compatible server)")
        os.environ.update(AGENT_MEMORY_RECORD_BASE_URL=base or "https://api.openai.com/v1",
                          AGENT_MEMORY_RECORD_MODEL=os.environ.get("AGENT_MEMORY_LLM_MODEL") or "gpt-4o-mini",
                          AGENT_MEMORY_RECORD_API_KEY=key or "sk-no-key-required")
        code = _run_pytest("vcr and not scripted", args.pytest_args)
    else:
        with ScriptedServer(rules(), port=args.port) as server:
            os.environ.update(AGENT_MEMORY_RECORD_BASE_URL=server.url, AGENT_MEMORY_RECORD_MODEL="gpt-4o-mini",
                              AGENT_MEMORY_RECORD_API_KEY="sk-scripted-not-a-key")
            code = _run_pytest("vcr", args.pytest_args)
            if server.unmatched:
                print(f"{len(server.unmatched)} requests had no scripted answer", file=sys.stderr)
                code = code or 1
    leaked = _check_secrets()
    if leaked:
        print("auth headers found in: " + ", ".join(leaked), file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
