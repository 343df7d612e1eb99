"""The MLflow search grammar: filter strings and order_by clauses, parsed into a small AST.

A filter is conditions joined by AND (OR is refused)::

    metrics.acc > 0.9 and params.model = 'rf' and tags.`mlflow.runName` LIKE 'base%'
    attributes.run_id IN ('a1b2', 'c3d4') and params.seed IS NOT NULL

Entity prefixes: ``metrics.``/``metric.``, ``params.``/``param.``/``parameter(s).``,
``tags.``/``tag.``, ``attributes.``/``attribute.``/``attr.``/``run.``, ``datasets.``/
``dataset.``; a bare name is an attribute. Keys with special characters go in backticks or
double quotes; string values in single or double quotes; numbers may be negative or
scientific. Every syntax or type error raises `InvalidFilter` naming the problem and its
0-based character position.

This module only parses. `slipway.store.sql.filters` compiles a comparison to SQL (the
searches that use it, `run_search`, `experiments` and the registry's, sit with their
code), so the grammar can be tested (and reused by other stores) without a database.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from slipway.errors import InvalidFilter, InvalidParameterValue

METRIC = "metric"
PARAM = "param"
TAG = "tag"
ATTRIBUTE = "attribute"
DATASET = "dataset"

Target = Literal["runs", "experiments"]
Value = str | float | tuple[str | float, ...] | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """One condition: `entity_type` is metric/param/tag/attribute/dataset.

    `key` is canonical (attribute aliases resolved: `created` → `start_time`);
    `op` is one of = != < <= > >= LIKE ILIKE IN, NOT IN, IS NULL, IS NOT NULL;
    `value` is a float, a str, a tuple (IN lists) or None (IS [NOT] NULL).
    """

    entity_type: str
    key: str
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class OrderKey:
    entity_type: str
    key: str
    ascending: bool = True


_ENTITY_PREFIXES = {
    "metric": METRIC,
    "metrics": METRIC,
    "param": PARAM,
    "params": PARAM,
    "parameter": PARAM,
    "parameters": PARAM,
    "tag": TAG,
    "tags": TAG,
    "attribute": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "attr": ATTRIBUTE,
    "run": ATTRIBUTE,
    "dataset": DATASET,
    "datasets": DATASET,
}

# Attribute aliases -> canonical names, per search target.
_RUN_STRING_ATTRIBUTES = {
    "run_id": "run_id",
    "run_uuid": "run_id",
    "run_name": "run_name",
    "run name": "run_name",
    "status": "status",
    "user_id": "user_id",
    "artifact_uri": "artifact_uri",
    "lifecycle_stage": "lifecycle_stage",
}
_RUN_NUMERIC_ATTRIBUTES = {
    "start_time": "start_time",
    "end_time": "end_time",
    "created": "start_time",
}
_RUN_ORDER_ONLY_ATTRIBUTES = {"experiment_id": "experiment_id"}
_EXPERIMENT_STRING_ATTRIBUTES = {"name": "name"}
_EXPERIMENT_NUMERIC_ATTRIBUTES = {
    "creation_time": "creation_time",
    "last_update_time": "last_update_time",
}
_EXPERIMENT_ORDER_ONLY_ATTRIBUTES = {"experiment_id": "experiment_id"}
_DATASET_KEYS = ("name", "digest", "context")

_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_STRING_KV_OPS = ("=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")
_STRING_ATTR_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "ASC", "DESC"}
_OPERATORS = {"=", "!=", "<", "<=", ">", ">="}

_WORD_RE = re.compile(r"[^\W\d][\w.\-/:]*")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_QUOTES = ("'", '"', "`")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # word, keyword, ident, string, backtick, number, op, lparen, rparen, comma, eof
    text: str  # the source text (for messages)
    pos: int
    value: object = None  # string content, float, keyword name, or (prefix, key) for ident


def _read_quoted(s: str, start: int) -> tuple[str, int]:
    """Read a quoted run starting at s[start] (the quote); return (content, end index).

    The quote is escaped by doubling it (`'it''s'`) or with a backslash (`'it\\'s'`); any
    other backslash is kept, so LIKE patterns keep their own escapes (`'a\\_b'`).
    """
    quote = s[start]
    out: list[str] = []
    i = start + 1
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] in (quote, "\\"):
            out.append(s[i + 1] if s[i + 1] == quote else "\\\\")
            i += 2
            continue
        if c == quote:
            if i + 1 < n and s[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(c)
        i += 1
    what = "quoted key" if quote == "`" else "string"
    raise InvalidFilter(f"Unterminated {what}: missing closing {quote}", start)


def _tokenize(s: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if c in "(),":
            kind = {"(": "lparen", ")": "rparen", ",": "comma"}[c]
            tokens.append(_Token(kind, c, i))
            i += 1
            continue
        if c in "<>=!":
            j = i
            while j < n and s[j] in "<>=!":
                j += 1
            op = s[i:j]
            if op not in _OPERATORS:
                hint = " (use !=)" if op == "<>" else " (use =)" if op == "==" else ""
                raise InvalidFilter(
                    f"Invalid comparison operator '{op}'{hint}; expected one of "
                    "=, !=, <, <=, >, >=",
                    i,
                )
            tokens.append(_Token("op", op, i))
            i = j
            continue
        if c in ("'", '"'):
            content, j = _read_quoted(s, i)
            tokens.append(_Token("string", s[i:j], i, content))
            i = j
            continue
        if c == "`":
            content, j = _read_quoted(s, i)
            tokens.append(_Token("backtick", s[i:j], i, content))
            i = j
            continue
        m = _NUMBER_RE.match(s, i)
        starts_number = c.isdigit() or c == "." or (i + 1 < n and s[i + 1] in "0123456789.")
        if m and starts_number:
            j = m.end()
            if j < n and (s[j].isalnum() or s[j] in "_."):
                raise InvalidFilter(f"Invalid number '{s[i : j + 1]}...'", i)
            tokens.append(_Token("number", m.group(), i, float(m.group())))
            i = j
            continue
        m = _WORD_RE.match(s, i)
        if m:
            word = m.group()
            j = m.end()
            if word.upper() in _KEYWORDS:
                tokens.append(_Token("keyword", word, i, word.upper()))
            elif word.endswith(".") and j < n and s[j] in ('"', "`"):
                # entity prefix followed by a quoted key: tags.`mlflow.runName`
                key, k = _read_quoted(s, j)
                tokens.append(_Token("ident", s[i:k], i, (word[:-1], key)))
                j = k
            else:
                prefix, dot, key = word.partition(".")
                tokens.append(_Token("ident", word, i, (prefix, key) if dot else (None, word)))
            i = j
            continue
        raise InvalidFilter(f"Unexpected character {c!r}", i)
    tokens.append(_Token("eof", "", n))
    return tokens


class FilterParser:
    """Recursive-descent parser of the filter and order_by grammar.

    Subclasses change which keys exist by overriding `resolve` and
    `is_numeric_attribute` (the registry's searches do, for model and version fields).
    """

    def __init__(self, text: str, target: Target) -> None:
        self.text = text
        self.target = target
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def next(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def is_keyword(self, tok: _Token, *names: str) -> bool:
        return tok.kind == "keyword" and tok.value in names

    # --- identifiers -------------------------------------------------------------------
    def identifier(self, purpose: str) -> tuple[str, str, _Token]:
        """Read `entity.key` (or a bare attribute); return (entity_type, raw key, token)."""
        tok = self.next()
        if tok.kind == "backtick":
            return ATTRIBUTE, str(tok.value), tok
        if tok.kind != "ident":
            if tok.kind == "eof":
                raise InvalidFilter(f"Expected {purpose} but the text ended", tok.pos)
            if tok.kind == "lparen":
                raise InvalidFilter(
                    "Parentheses are not supported; join conditions with AND", tok.pos
                )
            raise InvalidFilter(
                f"Expected {purpose} such as metrics.acc or params.lr, got {tok.text!r}", tok.pos
            )
        prefix, key = tok.value  # type: ignore[misc]
        if prefix is None:
            return ATTRIBUTE, key, tok
        entity = _ENTITY_PREFIXES.get(prefix.lower())
        if entity is None:
            raise InvalidFilter(
                f"Invalid entity type '{prefix}' in {tok.text!r}: use metrics., params., tags., "
                "attributes. or datasets.",
                tok.pos,
            )
        if not key:
            raise InvalidFilter(f"Missing key after '{prefix}.'", tok.pos + len(prefix) + 1)
        return entity, key, tok

    def resolve(self, entity: str, key: str, tok: _Token, *, order: bool) -> tuple[str, str]:
        """Check the entity is searchable for the target and canonicalise attribute names."""
        if self.target == "experiments":
            if entity not in (ATTRIBUTE, TAG):
                raise InvalidFilter(
                    f"Experiments can be searched by attributes and tags only, not {entity}s",
                    tok.pos,
                )
            strings, numbers = _EXPERIMENT_STRING_ATTRIBUTES, _EXPERIMENT_NUMERIC_ATTRIBUTES
            extra = _EXPERIMENT_ORDER_ONLY_ATTRIBUTES if order else {}
        else:
            strings, numbers = _RUN_STRING_ATTRIBUTES, _RUN_NUMERIC_ATTRIBUTES
            extra = _RUN_ORDER_ONLY_ATTRIBUTES if order else {}
        if entity == ATTRIBUTE:
            names = {**strings, **numbers, **extra}
            canonical = names.get(key) or names.get(key.lower())
            if canonical is None:
                valid = sorted(k for k in names if " " not in k and k != "run_uuid")
                raise InvalidFilter(
                    f"Invalid attribute key '{key}'; valid keys are {', '.join(valid)}", tok.pos
                )
            return entity, canonical
        if entity == DATASET:
            if order:
                raise InvalidFilter("Runs cannot be ordered by dataset fields", tok.pos)
            if key not in _DATASET_KEYS:
                raise InvalidFilter(
                    f"Invalid dataset key '{key}'; valid keys are {', '.join(_DATASET_KEYS)}",
                    tok.pos,
                )
        return entity, key

    def is_numeric_attribute(self, key: str) -> bool:
        if self.target == "experiments":
            return key in _EXPERIMENT_NUMERIC_ATTRIBUTES.values()
        return key in _RUN_NUMERIC_ATTRIBUTES.values()

    # --- filters ---------------------------------------------------------------------
    def parse_filter(self) -> list[Comparison]:
        out: list[Comparison] = []
        if self.peek().kind == "eof":
            return out
        while True:
            out.append(self.comparison())
            tok = self.next()
            if tok.kind == "eof":
                return out
            if self.is_keyword(tok, "AND"):
                if self.peek().kind == "eof":
                    raise InvalidFilter("Expected a condition after AND", self.peek().pos)
                continue
            if self.is_keyword(tok, "OR"):
                raise InvalidFilter(
                    "OR is not supported in search filters: join conditions with AND "
                    "(run several searches for alternatives)",
                    tok.pos,
                )
            raise InvalidFilter(f"Expected AND between conditions, got {tok.text!r}", tok.pos)

    def operator(self, key_tok: _Token) -> tuple[str, _Token]:
        tok = self.next()
        if tok.kind == "op":
            return tok.text, tok
        if self.is_keyword(tok, "LIKE", "ILIKE", "IN"):
            return str(tok.value), tok
        if self.is_keyword(tok, "NOT"):
            nxt = self.next()
            if not self.is_keyword(nxt, "IN"):
                raise InvalidFilter("Expected IN after NOT", nxt.pos)
            return "NOT IN", tok
        if self.is_keyword(tok, "IS"):
            nxt = self.next()
            if self.is_keyword(nxt, "NOT"):
                nxt = self.next()
                if not self.is_keyword(nxt, "NULL"):
                    raise InvalidFilter("Expected NULL after IS NOT", nxt.pos)
                return "IS NOT NULL", tok
            if not self.is_keyword(nxt, "NULL"):
                raise InvalidFilter("Expected NULL or NOT NULL after IS", nxt.pos)
            return "IS NULL", tok
        got = "the end of the filter" if tok.kind == "eof" else repr(tok.text)
        raise InvalidFilter(
            f"Expected a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, "
            f"IS NULL, IS NOT NULL) after {key_tok.text!r}, got {got}",
            tok.pos,
        )

    def literal(self) -> _Token:
        tok = self.next()
        if tok.kind in ("string", "number"):
            return tok
        if tok.kind == "eof":
            raise InvalidFilter("Expected a value but the filter ended", tok.pos)
        if tok.kind == "ident":
            raise InvalidFilter(
                f"Expected a value, got {tok.text!r}: quote strings, e.g. '{tok.text}'", tok.pos
            )
        raise InvalidFilter(f"Expected a value, got {tok.text!r}", tok.pos)

    def comparison(self) -> Comparison:
        entity, raw_key, key_tok = self.identifier("a key")
        entity, key = self.resolve(entity, raw_key, key_tok, order=False)
        op, op_tok = self.operator(key_tok)
        what = self.describe(entity, raw_key)

        if entity == METRIC or (entity == ATTRIBUTE and self.is_numeric_attribute(key)):
            allowed = _NUMERIC_OPS
        elif entity in (PARAM, TAG):
            allowed = _STRING_KV_OPS
        else:
            allowed = _STRING_ATTR_OPS
        if op not in allowed:
            raise InvalidFilter(
                f"Operator '{op}' is not allowed for {what}; use one of {', '.join(allowed)}",
                op_tok.pos,
            )
        numeric = allowed is _NUMERIC_OPS

        if op in ("IS NULL", "IS NOT NULL"):
            return Comparison(entity, key, op, None)
        if op in ("IN", "NOT IN"):
            lp = self.next()
            if lp.kind != "lparen":
                raise InvalidFilter(f"Expected '(' after {op}", lp.pos)
            items: list[str | float] = []
            while True:
                tok = self.literal()
                items.append(self.check_value(tok, numeric, what))
                sep = self.next()
                if sep.kind == "rparen":
                    break
                if sep.kind != "comma":
                    raise InvalidFilter(f"Expected ',' or ')' in the {op} list", sep.pos)
            return Comparison(entity, key, op, tuple(items))
        tok = self.literal()
        return Comparison(entity, key, op, self.check_value(tok, numeric, what))

    def check_value(self, tok: _Token, numeric: bool, what: str) -> str | float:
        if numeric:
            if tok.kind != "number":
                raise InvalidFilter(
                    f"Expected a number for {what}, got the string {tok.text}", tok.pos
                )
            return float(tok.value)  # type: ignore[arg-type]
        if tok.kind != "string":
            raise InvalidFilter(
                f"Expected a quoted string for {what}, got {tok.text}: write it as '{tok.text}'",
                tok.pos,
            )
        return str(tok.value)

    @staticmethod
    def describe(entity: str, key: str) -> str:
        return f"{entity} '{key}'"

    # --- order by --------------------------------------------------------------------
    def parse_order_by(self) -> OrderKey:
        entity, raw_key, key_tok = self.identifier("an order_by key")
        entity, key = self.resolve(entity, raw_key, key_tok, order=True)
        ascending = True
        tok = self.next()
        if self.is_keyword(tok, "ASC", "DESC"):
            ascending = tok.value == "ASC"
            tok = self.next()
        if tok.kind != "eof":
            raise InvalidFilter(
                f"Unexpected {tok.text!r} in order_by {self.text!r}: expected '<key> [ASC|DESC]'",
                tok.pos,
            )
        return OrderKey(entity, key, ascending)


def parse_filter(filter_string: str | None, target: Target = "runs") -> list[Comparison]:
    """Parse a filter string; empty or None means no condition."""
    if not filter_string or not filter_string.strip():
        return []
    return FilterParser(filter_string, target).parse_filter()


def parse_order_by(clause: str, target: Target = "runs") -> OrderKey:
    """Parse one order_by clause such as `"metrics.acc DESC"`."""
    if not clause or not clause.strip():
        raise InvalidFilter("Empty order_by clause", 0)
    return FilterParser(clause, target).parse_order_by()


def parse_order_by_list(clauses: Sequence[str] | None, target: Target = "runs") -> list[OrderKey]:
    return [parse_order_by(c, target) for c in clauses or ()]


# --- page tokens -------------------------------------------------------------------------


def encode_page_token(offset: int) -> str:
    """An opaque token for the page that starts at `offset`."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    """The offset inside a token from `encode_page_token` (0 for no token)."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = data["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeError):
        raise InvalidParameterValue(
            f"Invalid page_token {token!r}: pass the next_page_token of a previous search."
        ) from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidParameterValue(
            f"Invalid page_token {token!r}: pass the next_page_token of a previous search."
        )
    return offset


__all__ = [
    "ATTRIBUTE",
    "DATASET",
    "METRIC",
    "PARAM",
    "TAG",
    "Comparison",
    "OrderKey",
    "decode_page_token",
    "encode_page_token",
    "parse_filter",
    "parse_order_by",
    "parse_order_by_list",
]
