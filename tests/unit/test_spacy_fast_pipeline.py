"""The offline extractor's faster spaCy run reads each word the way spaCy's own pipeline does.

``FastPipeline`` replaces the attribute ruler and the rule lemmatizer with its own pass and turns
the lemmatizer's word lists into sets; the rules read lemmas, tags and dependencies, so any
difference from ``nlp.pipe`` would change which facts are extracted.
"""

from __future__ import annotations

import pytest

spacy = pytest.importorskip("spacy")

from agent_memory.extraction._spacy import DEFAULT_MODELS, FastPipeline  # noqa: E402

TEXTS = [
    "The children were running after the mice in the garden yesterday.",
    "I've been painting a lot lately; my sister's dogs keep stealing the brushes!",
    "Caroline adopted two puppies last week and she's thinking about a third.",
    "We went to Denver in March, then drove back through the mountains.",
    "Better days are coming, said Melanie, who'd already bought the geese.",
    "He doesn't like studying, but he studied harder than anyone I knew.",
    "Thanks, Maria! Those cookies were the best ones I have ever eaten.",
]


def _reading(docs: list) -> list[list[tuple[str, str, str, str, str, str]]]:
    return [[(t.text, t.lemma_, t.pos_, t.tag_, t.dep_, str(t.morph)) for t in doc] for doc in docs]


def test_fast_pipeline_gives_spacys_own_lemmas_tags_and_parses() -> None:
    name = next((m for m in DEFAULT_MODELS if spacy.util.is_package(m)), None)
    if name is None:
        pytest.skip("no spaCy English model installed")
    reference = spacy.load(name)  # a separate copy: FastPipeline changes the one it wraps
    expected = _reading(list(reference.pipe(TEXTS)))
    fast = FastPipeline(spacy.load(name))
    assert _reading(fast.pipe(TEXTS)) == expected
    assert _reading(fast.pipe(TEXTS)) == expected  # again, with its lemma caches warm
