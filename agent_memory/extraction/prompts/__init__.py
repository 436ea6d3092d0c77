"""Prompts are data: one module per LLM task, each a pure function of a typed input.

Each module holds ``NAME`` (the task, also the schema name and the accounting purpose),
``VERSION``, its typed input model, its pydantic response model and ``build_messages(input)``.
Rendered prompts are snapshot-tested in ``tests/llm/test_prompts.py``.
"""

from __future__ import annotations

from . import extract, resolve, summarize

__all__ = ["VERSIONS", "extract", "resolve", "summarize"]

VERSIONS = {m.NAME: m.VERSION for m in (extract, resolve, summarize)}
