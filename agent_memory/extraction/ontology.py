"""Custom ontology: user-defined entity and relation types, as pydantic models.

The class name is the type name (relation names are normalised to UPPER_SNAKE: ``AdoptedPet``
-> ``ADOPTED_PET``); the class docstring and the fields' types and descriptions are shown to the
model; attributes the model extracts are validated field by field against the model, so a
wrong value loses that attribute, never the entity or the fact.

Usage:
    >>> from pydantic import BaseModel, Field
    >>> class Pet(BaseModel):
    ...     '''An animal the user keeps.'''
    ...     species: str = Field(description="dog, cat, ...")
    >>> Ontology(entity_types=[Pet]).entity_type("pet")
    'Pet'
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import ConfigError
from .prompts.extract import OntologyField, OntologySpec, OntologyType
from .relations import normalize_relation

__all__ = ["Ontology"]

log = logging.getLogger(__name__)


class Ontology:
    """Entity and edge (relation) types for extraction.

    Args:
        entity_types: pydantic models; each class name is an entity type.
        edge_types: pydantic models; each class name, in UPPER_SNAKE, is a relation.
    """

    def __init__(self, entity_types: Sequence[type[BaseModel]] = (),
                 edge_types: Sequence[type[BaseModel]] = ()) -> None:
        for cls in [*entity_types, *edge_types]:
            if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
                raise ConfigError(f"Ontology types must be pydantic BaseModel classes, got {cls!r}")
        self.entity_types: dict[str, type[BaseModel]] = {cls.__name__: cls for cls in entity_types}
        self.edge_types: dict[str, type[BaseModel]] = {normalize_relation(cls.__name__): cls for cls in edge_types}
        self._entity_names = {name.casefold(): name for name in self.entity_types}

    def __repr__(self) -> str:
        return f"Ontology(entity_types={list(self.entity_types)}, edge_types={list(self.edge_types)})"

    def spec(self) -> OntologySpec:
        """The types as the extraction prompt describes them."""
        return OntologySpec(entity_types=[_describe(name, cls) for name, cls in self.entity_types.items()],
                            edge_types=[_describe(name, cls) for name, cls in self.edge_types.items()])

    def entity_type(self, name: str) -> str | None:
        """The defined entity type ``name`` refers to (case-insensitive), or None."""
        return self._entity_names.get(name.strip().casefold())

    def entity_attributes(self, type_name: str, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """Attributes of an entity of ``type_name`` that validate against its model."""
        cls = self.entity_types.get(self.entity_type(type_name) or "")
        return _validate(cls, pairs) if cls else {}

    def edge_attributes(self, relation: str, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """Attributes of a fact with ``relation`` that validate against its model."""
        cls = self.edge_types.get(normalize_relation(relation))
        return _validate(cls, pairs) if cls else {}


def _describe(name: str, cls: type[BaseModel]) -> OntologyType:
    doc = cls.__dict__.get("__doc__")
    fields = [OntologyField(name=field, type=_type_name(info.annotation), description=info.description)
              for field, info in cls.model_fields.items()]
    return OntologyType(name=name, description=" ".join(doc.split()) if doc else None, fields=fields)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("NoneType", "None")


def _validate(cls: type[BaseModel], pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Validate each known field on its own: one bad value drops that attribute only."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        info = cls.model_fields.get(key.strip())
        if info is None:
            continue
        adapter: TypeAdapter[Any] = TypeAdapter(info.annotation or Any)
        try:
            out[key.strip()] = adapter.dump_python(adapter.validate_python(value), mode="json")
        except ValidationError:
            try:  # "42", "true", "[1, 2]": values arrive as text
                out[key.strip()] = adapter.dump_python(adapter.validate_json(value), mode="json")
            except ValidationError:
                log.debug("attribute %s=%r does not validate for %s", key, value, cls.__name__)
    return out
