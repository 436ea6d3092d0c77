"""LLM client over the ``openai`` SDK: OpenAI, Azure OpenAI and OpenAI-compatible servers.

Structured output uses ``response_format={"type": "json_schema", ...}``. A server that rejects
it before ever accepting it (llama.cpp's answers HTTP 500; older models answer 400 naming
``response_format``) switches the client, for good, to ``{"type": "json_object"}`` with the
schema in the system message.

We retry ourselves (the SDK client is built with ``max_retries=0``) so that every HTTP attempt
is one :class:`~agent_memory.llm.base.CallRecord`: 429s honour ``retry-after-ms``/``retry-after``,
else exponential backoff with jitter (0.5 s base, 20 s cap); 408/409/5xx and connection errors
back off the same way. Output that does not validate is retried once with the validation error
quoted. Provider exceptions are translated to ours here and nowhere else.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

from ..errors import ConfigError, LLMResponseError, MissingDependencyError, ProviderError, RateLimitError
from ._retry import MAX_RETRY_AFTER, backoff, describe, rejects_json_schema, retry_after
from ._schema import InvalidOutput, parse_output, response_schema, schema_text
from .base import CallRecord, T

__all__ = ["DEFAULT_AZURE_API_VERSION", "DEFAULT_MAX_TOKENS", "DEFAULT_MODEL", "OpenAILLM", "StructuredMode",
           "default_timeout"]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_MAX_TOKENS = 2048
LOCAL_TIMEOUT = 600.0
REMOTE_TIMEOUT = 60.0
_LOCAL_HOSTS = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|\[?::1\]?|10\.\d+\.\d+\.\d+|"
                          r"192\.168\.\d+\.\d+|172\.(1[6-9]|2\d|3[01])\.\d+\.\d+|[\w-]+\.local|host\.docker\.internal)$")
DEFAULT_AZURE_API_VERSION = "2024-10-21"
StructuredMode = Literal["auto", "json_schema", "json_object"]

_PIP = "pip install 'agent-memory[openai]'"
_LOCAL_KEY = "sk-no-key-required"  # local servers ignore the key, the SDK insists on one
_REPAIR = (
    "Your previous answer was not valid: {reason}. Answer again with only the JSON object, "
    "matching the schema exactly."
)
_JSON_OBJECT_HINT = "\n\nAnswer with one JSON object only, matching this JSON schema:\n"


def _import_openai() -> Any:
    """The openai package, or MissingDependencyError saying how to install it."""
    try:
        import openai
    except ImportError as exc:
        raise MissingDependencyError(f"OpenAILLM needs the openai package: {_PIP}") from exc
    return openai


@dataclass
class _Reply:
    """One successful HTTP attempt."""

    content: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    refusal: str | None = None


class OpenAILLM:
    """Structured output from any OpenAI-compatible chat endpoint.

    Setup:
        ``pip install 'agent-memory[openai]'``; then ``OpenAILLM.from_env()`` or explicit arguments.

    Usage:
        >>> llm = OpenAILLM("gpt-4o-mini", api_key="sk-...")                       # doctest: +SKIP
        >>> llm = OpenAILLM("qwen2.5", base_url="http://localhost:8080/v1")          # doctest: +SKIP
        >>> llm = OpenAILLM("my-deployment", azure_endpoint="https://x.openai.azure.com",
        ...                 api_key="...", api_version="2024-10-21")                 # doctest: +SKIP

    Args:
        model: model name (the deployment name on Azure); default ``gpt-4o-mini``.
        api_key: the key; a local server (``base_url`` given) needs none.
        base_url: an OpenAI-compatible server, e.g. ``http://localhost:11434/v1``.
        azure_endpoint: Azure OpenAI resource endpoint (uses ``openai.AzureOpenAI``).
        api_version: Azure API version.
        client: a ready ``openai.OpenAI``-like client (its own retries are turned off).
        structured: ``"auto"`` (json_schema, falling back to json_object), or force one mode.
        max_retries: retries after a 429, 408/409/5xx or connection error.
        timeout: seconds per HTTP attempt; default 600 for a local ``base_url`` (a small model on a
            CPU took 54-368 s per call) and 60 otherwise (``from_env`` also reads ``AGENT_MEMORY_LLM_TIMEOUT``).
        max_tokens: the cap on each answer's tokens (``max_tokens`` in the request); None sends none.
            A runaway answer (1,621 tokens from a 1.5B model) is cut, fails validation and is retried once.
        max_concurrency: HTTP calls in flight at once from this client.
        sleep: how to wait between retries (tests inject a recorder).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
        client: Any = None,
        structured: StructuredMode = "auto",
        max_retries: int = 4,
        timeout: float | None = None,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        max_concurrency: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if structured not in ("auto", "json_schema", "json_object"):
            raise ConfigError(f"structured must be 'auto', 'json_schema' or 'json_object', got {structured!r}")
        timeout = default_timeout(base_url, {}) if timeout is None else timeout
        if max_retries < 0 or max_concurrency < 1 or timeout <= 0 or (max_tokens is not None and max_tokens < 16):
            raise ConfigError("max_retries must be >= 0, max_concurrency >= 1, timeout > 0 and max_tokens >= 16")
        openai = _import_openai()
        if client is None:
            client = _build_client(openai, api_key=api_key, base_url=base_url, azure_endpoint=azure_endpoint,
                                   api_version=api_version, timeout=timeout)
        elif hasattr(client, "with_options"):
            client = client.with_options(max_retries=0)
        self.model: str = model or DEFAULT_MODEL
        self.on_call: Callable[[CallRecord], None] | None = None
        self.client = client
        self.structured: StructuredMode = structured
        self.mode: Literal["json_schema", "json_object"] = (
            "json_object" if structured == "json_object" else "json_schema")
        self.max_retries = max_retries
        self.timeout = timeout
        self.max_tokens = max_tokens
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._json_schema_worked = False

    def __repr__(self) -> str:
        return f"OpenAILLM(model={self.model!r}, mode={self.mode!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, timeout: float | None = None) -> OpenAILLM | None:
        """A client configured from the environment, or None when no endpoint is configured.

        Reads ``AZURE_OPENAI_ENDPOINT`` (+ ``AZURE_OPENAI_API_KEY``, ``OPENAI_API_VERSION``), else
        ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``; the model from ``AGENT_MEMORY_LLM_MODEL``
        (default ``gpt-4o-mini``), the mode from ``AGENT_MEMORY_LLM_STRUCTURED`` (default auto), the
        timeout from ``AGENT_MEMORY_LLM_TIMEOUT`` and the answer cap from ``AGENT_MEMORY_LLM_MAX_TOKENS``.
        """
        env = os.environ if env is None else env
        model = env.get("AGENT_MEMORY_LLM_MODEL") or DEFAULT_MODEL
        structured = env.get("AGENT_MEMORY_LLM_STRUCTURED") or "auto"
        raw_cap = (env.get("AGENT_MEMORY_LLM_MAX_TOKENS") or "").strip()
        if raw_cap and not raw_cap.isdigit():
            raise ConfigError(f"AGENT_MEMORY_LLM_MAX_TOKENS must be a whole number, got {raw_cap!r}")
        cap = int(raw_cap) if raw_cap else DEFAULT_MAX_TOKENS
        if env.get("AZURE_OPENAI_ENDPOINT"):
            return cls(model, azure_endpoint=env["AZURE_OPENAI_ENDPOINT"], api_key=env.get("AZURE_OPENAI_API_KEY"),
                       api_version=env.get("OPENAI_API_VERSION") or DEFAULT_AZURE_API_VERSION,
                       structured=structured, timeout=timeout or default_timeout(None, env),  # type: ignore[arg-type]
                       max_tokens=cap)
        if env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL"):
            base_url = env.get("OPENAI_BASE_URL") or None
            return cls(model, api_key=env.get("OPENAI_API_KEY") or None, base_url=base_url,
                       structured=structured, timeout=timeout or default_timeout(base_url, env),  # type: ignore[arg-type]
                       max_tokens=cap)
        return None

    # -- the one public call ----------------------------------------------------------------
    def generate_structured(
        self,
        messages: list[dict[str, str]],
        schema: type[T],
        *,
        name: str,
        episodes: Sequence[str] = (),
    ) -> T:
        """Answer ``messages`` with a validated ``schema`` instance (see :class:`LLMClient`)."""
        served = list(episodes)
        convo = [dict(m) for m in messages]
        attempts = [0]
        first_reason = ""
        for round_ in (1, 2):
            reply = self._send(convo, schema, name, served, attempts)
            try:
                result = parse_output(reply.content, schema)
            except InvalidOutput as exc:
                reason = _reason(exc, reply)
                self._emit(name, served, attempts[0], reply, ok=False, error=f"invalid output: {reason}")
                if round_ == 2:
                    raise LLMResponseError(
                        f"{name}: {self.model} answered twice with output that does not match "
                        f"{schema.__name__} (first: {first_reason}; then: {reason})",
                        model=self.model, purpose=name, episodes=served, output=(reply.content or "")[:2000],
                    ) from exc
                first_reason = reason
                convo = [*convo, {"role": "assistant", "content": reply.content or ""},
                         {"role": "user", "content": _REPAIR.format(reason=reason)}]
                continue
            self._emit(name, served, attempts[0], reply, ok=True)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    # -- HTTP attempts ------------------------------------------------------------------------
    def _send(self, convo: list[dict[str, str]], schema: type[BaseModel], name: str, episodes: list[str],
              attempts: list[int]) -> _Reply:
        """POST until an answer arrives: back off on 429/5xx, fall back to json_object once."""
        openai = _import_openai()
        retries = 0
        while True:
            attempts[0] += 1
            mode = self.mode
            start = time.perf_counter()
            try:
                with self._slots:
                    response = self.client.chat.completions.create(**self._request(convo, schema, name, mode))
            except openai.OpenAIError as exc:
                latency = (time.perf_counter() - start) * 1000
                action, delay = self._triage(openai, exc, mode, retries)
                self._emit(name, episodes, attempts[0], None, ok=False, error=describe(exc), latency_ms=latency)
                if action == "raise":
                    raise self._translate(openai, exc, name, retries) from exc
                if action == "fallback":
                    log.warning("%s rejected json_schema (%s); using json_object from now on", self.model,
                                describe(exc))
                    self.mode = "json_object"
                    continue
                retries += 1
                log.info("%s: retry %d/%d in %.2f s after %s", name, retries, self.max_retries, delay,
                         describe(exc))
                self._sleep(delay)
                continue
            if mode == "json_schema":
                self._json_schema_worked = True  # from now on a 500 is a server error, not a refusal
            return _reply(response, (time.perf_counter() - start) * 1000)

    def _request(self, convo: list[dict[str, str]], schema: type[BaseModel], name: str,
                 mode: str) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for one attempt."""
        cap = {"max_tokens": self.max_tokens} if self.max_tokens is not None else {}
        if mode == "json_object":
            return {"model": self.model, "messages": _with_schema(convo, schema), "temperature": 0, **cap,
                    "response_format": {"type": "json_object"}}
        body, strict = response_schema(schema)
        label = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "answer"
        return {"model": self.model, "messages": convo, "temperature": 0, **cap,
                "response_format": {"type": "json_schema",
                                    "json_schema": {"name": label, "schema": body, "strict": strict}}}

    def _triage(self, openai: Any, exc: Exception, mode: str, retries: int) -> tuple[str, float]:
        """Decide what a failed attempt leads to: ("raise"|"fallback"|"retry", delay in seconds)."""
        can_retry = retries < self.max_retries
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if (mode == "json_schema" and self.structured == "auto" and not self._json_schema_worked
                    and rejects_json_schema(status, exc)):
                return "fallback", 0.0
            if status == 429:
                wait = retry_after(exc.response.headers)
                if not can_retry or (wait is not None and wait > MAX_RETRY_AFTER):
                    return "raise", 0.0
                return "retry", wait if wait is not None else backoff(retries)
            if (status in (408, 409) or status >= 500) and can_retry:
                return "retry", backoff(retries)
            return "raise", 0.0
        if isinstance(exc, openai.APIConnectionError) and can_retry:
            return "retry", backoff(retries)
        return "raise", 0.0

    def _translate(self, openai: Any, exc: Exception, name: str, retries: int) -> Exception:
        """Our exception for a provider failure that will not be retried."""
        ids = {"model": self.model, "purpose": name}
        if isinstance(exc, openai.RateLimitError):
            wait = retry_after(exc.response.headers)
            return RateLimitError(f"{name}: {self.model} is rate limited (HTTP 429) after {retries} retries: "
                                  f"{describe(exc)}", retry_after=wait, **ids)
        if isinstance(exc, openai.APIStatusError):
            return ProviderError(f"{name}: {self.model} failed with HTTP {exc.status_code}: {describe(exc)}",
                                 status_code=exc.status_code, **ids)
        if isinstance(exc, openai.APIConnectionError):
            return ProviderError(f"{name}: could not reach the model endpoint after {retries} retries: "
                                 f"{describe(exc)}", **ids)
        return ProviderError(f"{name}: the openai client failed: {exc}", **ids)

    def _emit(self, purpose: str, episodes: list[str], attempt: int, reply: _Reply | None, *, ok: bool,
              error: str | None = None, latency_ms: float | None = None) -> None:
        """Hand one CallRecord to ``on_call``; an accounting failure never breaks the call."""
        if self.on_call is None:
            return
        record = CallRecord(
            purpose=purpose, model=self.model, ok=ok, error=error, episodes=list(episodes), attempt=attempt,
            prompt_tokens=reply.prompt_tokens if reply else 0,
            completion_tokens=reply.completion_tokens if reply else 0,
            latency_ms=reply.latency_ms if reply else (latency_ms or 0.0),
        )
        try:
            self.on_call(record)
        except Exception:  # noqa: BLE001 - accounting must not lose the extraction
            log.exception("on_call hook failed for a %s call", purpose)


def default_timeout(base_url: str | None, env: Mapping[str, str] | None = None) -> float:
    """Seconds per attempt: ``AGENT_MEMORY_LLM_TIMEOUT``, else long for a local server, else 60."""
    env = os.environ if env is None else env
    raw = env.get("AGENT_MEMORY_LLM_TIMEOUT", "").strip()
    if raw:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"AGENT_MEMORY_LLM_TIMEOUT must be a number of seconds, got {raw!r}") from None
        if value <= 0:
            raise ConfigError(f"AGENT_MEMORY_LLM_TIMEOUT must be positive, got {raw!r}")
        return value
    if base_url:
        host = urlsplit(base_url).hostname or ""
        if _LOCAL_HOSTS.match(host):
            return LOCAL_TIMEOUT
    return REMOTE_TIMEOUT


def _build_client(openai: Any, *, api_key: str | None, base_url: str | None, azure_endpoint: str | None,
                  api_version: str | None, timeout: float) -> Any:
    """An SDK client with its own retries off (we retry, so every attempt is counted)."""
    try:
        if azure_endpoint:
            return openai.AzureOpenAI(azure_endpoint=azure_endpoint, api_key=api_key,
                                      api_version=api_version or DEFAULT_AZURE_API_VERSION,
                                      max_retries=0, timeout=timeout)
        if api_key is None and base_url:
            api_key = _LOCAL_KEY
        return openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)
    except openai.OpenAIError as exc:
        raise ConfigError(f"Could not create the OpenAI client ({exc}); pass api_key= or base_url=, "
                          "or use OpenAILLM.from_env()") from exc


def _with_schema(convo: list[dict[str, str]], schema: type[BaseModel]) -> list[dict[str, str]]:
    """json_object mode: the schema goes at the end of the system message."""
    hint = _JSON_OBJECT_HINT + schema_text(schema)
    out = [dict(m) for m in convo]
    for message in out:
        if message.get("role") == "system":
            message["content"] = message.get("content", "") + hint
            return out
    return [{"role": "system", "content": hint.strip()}, *out]


def _reply(response: Any, latency_ms: float) -> _Reply:
    """Content, finish reason and usage of a chat.completion."""
    choices = getattr(response, "choices", None) or []
    message = choices[0].message if choices else None
    usage = getattr(response, "usage", None)
    return _Reply(getattr(message, "content", None), choices[0].finish_reason if choices else None,
                  int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0),
                  latency_ms, getattr(message, "refusal", None))


def _reason(exc: InvalidOutput, reply: _Reply) -> str:
    """Why an answer was refused, with the cause when the provider told us one."""
    if reply.refusal:
        return f"the model refused: {reply.refusal[:300]}"
    if reply.finish_reason == "length":
        return f"the answer was cut off (finish_reason=length): {exc}"
    return str(exc)
