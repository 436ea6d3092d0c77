"""A deterministic extractor for unit tests of the pipeline: ``subject RELATION target`` lines.

Each line of an episode written as ``Jane | LIVES_IN | Denver`` becomes a fact; ``!`` before the
relation marks an ending (``Jane | !WORKS_AT | Acme``). "I" is the speaker. It tests resolution,
invalidation and retrieval without the cost of spaCy; end-to-end tests use the real extractor.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..extraction.base import ExtractedEntity, ExtractedFact, Extraction, ExtractionContext
from ..models import Episode

__all__ = ["TripleExtractor"]


class TripleExtractor:
    """Reads ``subject | RELATION | target`` lines; raises on a line containing ``FAIL``."""

    name = "triples"

    def extract(self, episodes: Sequence[Episode], context: ExtractionContext) -> list[Extraction]:
        out = []
        for ep in episodes:
            if "FAIL" in ep.content:
                raise ValueError(f"cannot read episode {ep.uuid}")
            facts, entities = [], []
            for line in ep.content.splitlines():
                parts = [p.strip() for p in line.split("|")]
                if len(parts) != 3:
                    continue
                subject, relation, target = parts
                if subject.lower() == "i":
                    subject = ep.name or context.user_name
                ends = relation.startswith("!")
                relation = relation.lstrip("!")
                facts.append(ExtractedFact(source=subject, relation=relation, target=target,
                                           fact=f"{subject} {relation.lower().replace('_', ' ')} {target}",
                                           ends=ends))
                entities += [ExtractedEntity(name=subject, type="Person"), ExtractedEntity(name=target)]
            out.append(Extraction(episode_uuid=ep.uuid, entities=entities, facts=facts))
        return out
