"""Extraction: the Extractor protocol and the built-in extractors.

- :class:`OfflineExtractor` ("offline-spacy"): the embedded default, spaCy rules, no network.
- :class:`JsonExtractor` ("json"): business events as facts, structurally, no model at all.

Both are cheap to construct: spaCy and dateparser load on first use.
"""

from __future__ import annotations

from .base import ExtractedEntity, ExtractedFact, Extraction, ExtractionContext, Extractor
from .json import JsonExtractor
from .offline import OfflineExtractor
from .relations import is_single_valued, normalize_relation

__all__ = [
    "ExtractedEntity",
    "ExtractedFact",
    "Extraction",
    "ExtractionContext",
    "Extractor",
    "JsonExtractor",
    "OfflineExtractor",
    "is_single_valued",
    "normalize_relation",
]
