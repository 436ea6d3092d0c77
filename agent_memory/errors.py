"""One exception hierarchy for everything agent-memory raises on purpose.

```
AgentMemoryError
├── ConfigError (ValueError)                  a setting is wrong or missing
├── InvalidInputError (ValueError)            the caller passed something we refuse
│   ├── InvalidTimestampError                 not RFC 3339 / no timezone
│   ├── InvalidJSONError                      graph.add(type="json") data does not parse
│   ├── EmptyContentError
│   ├── ContentTooLargeError
│   ├── TemplateError                         unknown placeholder or bad syntax
│   └── SequenceOrderError                    a chat sequence breaks OpenAI's tool-message order
├── NotFoundError (KeyError)
│   ├── UserNotFoundError, ThreadNotFoundError, TemplateNotFoundError, EpisodeNotFoundError
├── AlreadyExistsError
├── StorageError                              the database or vector index failed
│   ├── MigrationError
│   └── MemoryInUseError                      another process owns this embedded home
├── ExtractionError
│   └── LLMResponseError
├── ProviderError                             a remote model service failed
│   └── RateLimitError
├── EmbeddingError
│   └── DimensionMismatchError
├── MissingDependencyError (ImportError)
├── ProcessingTimeoutError (TimeoutError)     wait_until_processed ran out of time
└── ClosedError                               the Memory was closed
```

Errors carry the ids they concern (``user_id``, ``thread_id``, ...) as attributes.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AgentMemoryError",
    "AlreadyExistsError",
    "ClosedError",
    "ConfigError",
    "ContentTooLargeError",
    "DimensionMismatchError",
    "EmbeddingError",
    "EmptyContentError",
    "EpisodeNotFoundError",
    "ExtractionError",
    "InvalidInputError",
    "InvalidJSONError",
    "InvalidTimestampError",
    "LLMResponseError",
    "MemoryInUseError",
    "MigrationError",
    "MissingDependencyError",
    "NotFoundError",
    "ProcessingTimeoutError",
    "ProviderError",
    "RateLimitError",
    "SequenceOrderError",
    "StorageError",
    "TemplateError",
    "TemplateNotFoundError",
    "ThreadNotFoundError",
    "UserNotFoundError",
]


class AgentMemoryError(Exception):
    """Base of every error agent-memory raises on purpose."""

    def __init__(self, message: str, **ids: Any) -> None:
        super().__init__(message)
        self.message = message
        for key, value in ids.items():
            setattr(self, key, value)

    def __str__(self) -> str:  # KeyError subclasses would otherwise repr() the message
        return self.message


class ConfigError(AgentMemoryError, ValueError):
    """A configuration value is wrong or missing."""


class InvalidInputError(AgentMemoryError, ValueError):
    """The caller passed input we refuse; nothing was stored."""


class InvalidTimestampError(InvalidInputError):
    """A timestamp is not RFC 3339 with a timezone."""


class InvalidJSONError(InvalidInputError):
    """JSON data does not parse or is not an object."""


class EmptyContentError(InvalidInputError):
    """Content is empty or only whitespace."""


class ContentTooLargeError(InvalidInputError):
    """Content exceeds the configured maximum size."""


class TemplateError(InvalidInputError):
    """A context template has bad syntax or an unknown placeholder."""


class NotFoundError(AgentMemoryError, KeyError):
    """A record that was asked for does not exist."""


class UserNotFoundError(NotFoundError):
    """No user with this id."""


class ThreadNotFoundError(NotFoundError):
    """No thread with this id."""


class TemplateNotFoundError(NotFoundError):
    """No context template with this id."""


class EpisodeNotFoundError(NotFoundError):
    """No episode with this id."""


class AlreadyExistsError(AgentMemoryError):
    """A record with this id already exists."""


class StorageError(AgentMemoryError):
    """The record store or vector index failed."""


class MigrationError(StorageError):
    """The database schema could not be brought to the current version."""


class ExtractionError(AgentMemoryError):
    """Entities or facts could not be extracted from an episode."""


class LLMResponseError(ExtractionError):
    """A model answered with output that does not validate."""


class ProviderError(AgentMemoryError):
    """A remote model provider failed."""


class RateLimitError(ProviderError):
    """The provider refused the call for rate limiting (HTTP 429)."""


class EmbeddingError(AgentMemoryError):
    """Texts could not be embedded."""


class DimensionMismatchError(EmbeddingError):
    """Vectors do not have the dimension the index was built with."""


class MissingDependencyError(AgentMemoryError, ImportError):
    """An optional package is needed for this feature."""


class ClosedError(AgentMemoryError):
    """The Memory was closed and cannot be used any more."""


class ProcessingTimeoutError(AgentMemoryError, TimeoutError):
    """Episodes were still being processed when the wait ran out."""


class SequenceOrderError(InvalidInputError):
    """A message sequence that an OpenAI-style chat API would reject (tool messages out of order)."""


class MemoryInUseError(StorageError):
    """Another process owns this memory home: an embedded home has exactly one owner process."""
