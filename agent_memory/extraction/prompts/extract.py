"""Prompt: extract entities and dated facts from a batch of messages, in one call.

Known entities and facts are numbered (``E1``..., ``F1``...) so the model can point at them
without ever seeing, or inventing, a database id; the caller maps the numbers back.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "GENERAL_TYPES",
    "NAME",
    "VERSION",
    "Attribute",
    "EntityItem",
    "ExtractInput",
    "ExtractOutput",
    "FactItem",
    "MessageItems",
    "OntologyField",
    "OntologySpec",
    "OntologyType",
    "PromptMessage",
    "TypedEntityItem",
    "TypedExtractOutput",
    "TypedFactItem",
    "TypedMessageItems",
    "build_messages",
    "response_model",
]

NAME = "extract"
VERSION = "extract-2"
GENERAL_TYPES = ("Person", "Organization", "Place", "Product", "Event", "Work", "Activity", "Animal",
                 "Preference", "Topic")


# -- input -------------------------------------------------------------------------------------
class PromptMessage(BaseModel):
    """One message of the batch, numbered by its position in the batch."""

    index: int
    speaker: str
    role: str
    time: str  # ISO 8601, the message's reference time
    text: str


class OntologyField(BaseModel):
    """One attribute of a custom type."""

    name: str
    type: str
    description: str | None = None


class OntologyType(BaseModel):
    """A custom entity or relation type: its name, what it means, its attributes."""

    name: str
    description: str | None = None
    fields: list[OntologyField] = Field(default_factory=list)


class OntologySpec(BaseModel):
    """User-defined entity and relation types, as the prompt describes them."""

    entity_types: list[OntologyType] = Field(default_factory=list)
    edge_types: list[OntologyType] = Field(default_factory=list)

    @property
    def has_attributes(self) -> bool:
        """True when some type has attributes for the model to fill."""
        return any(t.fields for t in [*self.entity_types, *self.edge_types])


class ExtractInput(BaseModel):
    """Everything the extraction prompt is rendered from."""

    user_name: str
    messages: list[PromptMessage]
    known_entities: list[str] = Field(default_factory=list)
    known_facts: list[str] = Field(default_factory=list)
    ontology: OntologySpec | None = None


# -- output ------------------------------------------------------------------------------------
# Optional fields have defaults so that a json_object answer that omits them still validates;
# the schema sent in json_schema mode marks every field required all the same (strict mode).
class Attribute(BaseModel):
    """An attribute of a custom type, as text."""

    model_config = ConfigDict(extra="forbid")  # a misplaced field is an error, never silently lost

    name: str
    value: str


class EntityItem(BaseModel):
    """An entity a message mentions: a known id ("E2") or a name."""

    model_config = ConfigDict(extra="forbid")  # a misplaced field is an error, never silently lost

    name: str
    type: str = "Topic"
    summary: str | None = None


class FactItem(BaseModel):
    """A fact a message states."""

    model_config = ConfigDict(extra="forbid")  # a misplaced field is an error, never silently lost

    source: str
    relation: str
    target: str
    fact: str
    valid_at: str | None = None
    invalid_at: str | None = None
    ends: bool = False


class MessageItems(BaseModel):
    """What one message yields."""

    model_config = ConfigDict(extra="forbid")  # a misplaced field is an error, never silently lost

    index: int
    entities: list[EntityItem] = Field(default_factory=list)
    facts: list[FactItem] = Field(default_factory=list)


class ExtractOutput(BaseModel):
    """The answer: only messages that yield something."""

    model_config = ConfigDict(extra="forbid")  # a misplaced field is an error, never silently lost

    messages: list[MessageItems] = Field(default_factory=list)


class TypedEntityItem(EntityItem):
    """An entity with custom-type attributes."""

    attributes: list[Attribute] = Field(default_factory=list)


class TypedFactItem(FactItem):
    """A fact with custom-relation attributes."""

    attributes: list[Attribute] = Field(default_factory=list)


class TypedMessageItems(MessageItems):
    """What one message yields, with attributes."""

    entities: list[TypedEntityItem] = Field(default_factory=list)  # type: ignore[assignment]
    facts: list[TypedFactItem] = Field(default_factory=list)  # type: ignore[assignment]


class TypedExtractOutput(ExtractOutput):
    """The answer when the ontology has attributes to fill."""

    messages: list[TypedMessageItems] = Field(default_factory=list)  # type: ignore[assignment]


def response_model(inp: ExtractInput) -> type[ExtractOutput]:
    """The schema to ask for: attributes only when the ontology defines some."""
    return TypedExtractOutput if inp.ontology is not None and inp.ontology.has_attributes else ExtractOutput


# -- rendering ---------------------------------------------------------------------------------
_SYSTEM = """\
You turn chat messages into long-term memory about {user} and the people, places, things and \
events in their life: entities, and short dated facts between them.

How to read the messages
- "I", "me", "my" mean the message's speaker; "you" means the person the speaker addresses. \
Write people by name, never as pronouns; write the user as "{user}".
- Resolve relative dates ("yesterday", "last week", "two years ago") against the time of the \
message that says them.
- Known entities are numbered E1, E2, ...: when a message refers to one of them, write its id \
(e.g. "E2") instead of a name. Use only the ids listed; never make up an id. A new entity gets \
its name as written (the full proper name when known).
- Known facts (F1, F2, ...) are already remembered. Use them to understand the messages ("moved \
back there", "my old job"); do not output them again unless a message states them anew.

What to output, per message index (leave out messages with nothing worth remembering)
- entities: what the message mentions that matters later, with a type ({types}) and a summary: \
one short clause on what the message says about it, or null.
- facts: one fact per statement, each with
  source and target: entity names or E ids (subject and object);
  relation: an UPPER_SNAKE verb phrase, e.g. LIVES_IN, WORKS_AT, JOB_TITLE, FAVORITE_AUTHOR, \
LIKES, DISLIKES, HAS_PET, FRIEND_OF, PARENT_OF, ATTENDED, PLANS_TO;
  fact: one short third-person sentence with names, e.g. "{user} works at Acme Corp.";
  valid_at and invalid_at: when it became true and stopped being true, as YYYY-MM-DD or an \
ISO 8601 timestamp, or null when the messages do not say (the message time is then used);
  ends: true when the message says a relation ended ("I quit", "we broke up", "I no longer \
live there"): give the relation and target that ended, and invalid_at when known.
- Keep what speakers assert about themselves and others. Skip greetings, small talk, \
questions, hypotheticals and plans not yet carried out.
- The subject of a fact is whoever the statement is about: in "my sister Ana lives in Lisbon" it \
is Ana, not the speaker. Lines marked (assistant) are context only: never take a fact from them.
- For a change, give the state it leads to: "I moved to Denver" -> LIVES_IN Denver; "I upgraded \
to the Pro plan" -> HAS_PLAN Pro plan; "I started at Stripe" -> WORKS_AT Stripe."""

_ONTOLOGY_HEAD = "\n\nCustom types for this memory; use them when they fit."
_ATTRIBUTES_NOTE = (
    '\nGive the attributes you find as "attributes": [{"name": ..., "value": ...}] (values as text); '
    "[] when none."
)


def build_messages(inp: ExtractInput) -> list[dict[str, str]]:
    """The chat messages for one extraction call (pure)."""
    types = list(GENERAL_TYPES)
    if inp.ontology:
        types = [t.name for t in inp.ontology.entity_types] + types
    system = _SYSTEM.format(user=inp.user_name, types=", ".join(dict.fromkeys(types)))
    if inp.ontology and (inp.ontology.entity_types or inp.ontology.edge_types):
        system += _ONTOLOGY_HEAD + _render_ontology(inp.ontology)
        if inp.ontology.has_attributes:
            system += _ATTRIBUTES_NOTE
    return [{"role": "system", "content": system}, {"role": "user", "content": _render_user(inp)}]


def _render_ontology(spec: OntologySpec) -> str:
    out = ""
    for title, items in (("Entity types", spec.entity_types), ("Relation types", spec.edge_types)):
        if items:
            out += f"\n{title}:" + "".join(f"\n- {_render_type(t)}" for t in items)
    return out


def _render_type(t: OntologyType) -> str:
    text = t.name + (f": {t.description}" if t.description else "")
    if t.fields:
        attrs = "; ".join(f"{f.name} ({f.type}" + (f": {f.description}" if f.description else "") + ")"
                          for f in t.fields)
        text += f" Attributes: {attrs}"
    return text


def _render_user(inp: ExtractInput) -> str:
    parts = [f"User: {inp.user_name}", "Known entities:" + _numbered("E", inp.known_entities),
             "Known facts:" + _numbered("F", inp.known_facts), "Messages:"]
    for m in inp.messages:
        text = m.text.strip().replace("\n", "\n    ")
        parts.append(f"[{m.index}] {m.time} {m.speaker} ({m.role}): {text}")
    return "\n".join(parts)


def _numbered(prefix: str, items: list[str]) -> str:
    if not items:
        return " none"
    return "".join(f"\n{prefix}{i} {item}" for i, item in enumerate(items, 1))
