"""Xero's ``where`` filter language (a small subset of .NET Dynamic LINQ), compiled to a predicate.

Supported: ``Field == value`` with ``== != > >= < <=``, dotted paths (``Contact.ContactID``),
``AND``/``&&``, ``OR``/``||``, parentheses, ``.Contains/.StartsWith/.EndsWith("x")``, and the value
forms ``"text"``, numbers, ``true``/``false``/``null``, ``Guid("...")`` and ``DateTime(y, m, d[, h, m, s])``.
The ``order`` parameter (``Field [ASC|DESC]``, comma-separated) is applied by ``sort_records``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]

_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|>=|<=|&&|\|\||[<>().,=])
                        |(?P<name>[A-Za-z_][A-Za-z0-9_]*))""", re.VERBOSE)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "=": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
    "<": operator.lt, "<=": operator.le,
}
_METHODS = {"Contains": str.__contains__, "StartsWith": str.startswith, "EndsWith": str.endswith}


class WhereError(ValueError):
    """The filter does not parse, or names a field the entity does not have (Xero: QueryParseException)."""


def compile_where(text: str, entity: str) -> Predicate:
    """Compile ``text`` into a predicate over an entity's wire dict (native Python values)."""
    parser = _Parser(_tokenize(text), entity)
    pred = parser.expression()
    if parser.pos != len(parser.tokens):
        raise WhereError(f"Syntax error near '{parser.tokens[parser.pos][1]}'")
    return pred


def sort_records(records: list[Any], text: str, entity: str, view: Callable[[Any], Mapping[str, Any]]) -> list[Any]:
    """``records`` in the order ``text`` asks for: ``Field [ASC|DESC]``, comma-separated, dotted paths allowed
    (Xero's ``order`` parameter). Strings sort ignoring case and nulls first, as .NET's OrderBy does."""
    keys = [_order_key(part, entity) for part in text.split(",")]
    ordered = list(records)
    for path, descending in reversed(keys):  # stable sorts, least significant key first
        ordered.sort(key=_sort_key(path, entity, view), reverse=descending)
    return ordered


def _sort_key(path: list[str], entity: str, view: Callable[[Any], Mapping[str, Any]]) -> Callable[[Any], Any]:
    return lambda rec: _sortable(_field(view(rec), path, entity))


def _order_key(part: str, entity: str) -> tuple[list[str], bool]:
    words = part.split()
    if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
        raise WhereError(f"Syntax error in order near '{part.strip()}'")
    path = words[0].split(".")
    if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) for name in path):
        raise WhereError(f"Syntax error in order near '{words[0]}'")
    return path, len(words) == 2 and words[1].upper() == "DESC"


def _field(rec: Mapping[str, Any], path: list[str], entity: str) -> Any:
    current: Any = rec
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            raise WhereError(f"No property or field '{part}' exists in type '{entity}'")
        current = current[part]
    return current


def _sortable(value: Any) -> tuple[bool, Any]:
    # Nulls first; then one comparable form per type (an entity's field always holds one type).
    if value is None:
        return False, 0
    if isinstance(value, date):
        return True, _as_datetime(value)
    if isinstance(value, str):
        return True, value.lower()
    return True, value


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise WhereError(f"Syntax error at position {pos}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], entity: str) -> None:
        self.tokens, self.pos, self.entity = tokens, 0, entity

    def peek(self) -> str | None:
        """The next token's text without consuming it."""
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        """Consume the next token (optionally requiring its text)."""
        if self.pos >= len(self.tokens):
            raise WhereError("Unexpected end of expression")
        tok = self.tokens[self.pos]
        if expected is not None and tok[1] != expected:
            raise WhereError(f"'{expected}' expected near '{tok[1]}'")
        self.pos += 1
        return tok

    def expression(self) -> Predicate:
        """expression := conjunction (OR conjunction)*"""
        left = self.conjunction()
        while (self.peek() or "").upper() in ("OR", "||"):
            self.take()
            left = _either(left, self.conjunction())
        return left

    def conjunction(self) -> Predicate:
        """conjunction := atom (AND atom)*"""
        left = self.atom()
        while (self.peek() or "").upper() in ("AND", "&&"):
            self.take()
            left = _both(left, self.atom())
        return left

    def atom(self) -> Predicate:
        """atom := "(" expression ")" | path op value | path.Method("text")"""
        if self.peek() == "(":
            self.take("(")
            inner = self.expression()
            self.take(")")
            return inner
        path = [self._name()]
        while self.peek() == ".":
            self.take(".")
            path.append(self._name())
        if path[-1] in _METHODS and self.peek() == "(":
            return self._method(path[:-1], _METHODS[path[-1]])
        _kind, op = self.take()
        if op not in _COMPARE:
            raise WhereError(f"Operator expected near '{op}'")
        value = self.value()
        return self._comparison(path, _COMPARE[op], value)

    def _name(self) -> str:
        kind, text = self.take()
        if kind != "name":
            raise WhereError(f"Identifier expected near '{text}'")
        return text

    def _method(self, path: list[str], method: Callable[[str, str], bool]) -> Predicate:
        self.take("(")
        arg = self.value()
        self.take(")")
        if not isinstance(arg, str):
            raise WhereError("String argument expected")

        def check(rec: Mapping[str, Any]) -> bool:
            """Evaluate the condition against one record."""
            field = self._resolve(rec, path)
            return isinstance(field, str) and method(field.lower(), arg.lower())
        return check

    def _comparison(self, path: list[str], compare: Callable[[Any, Any], bool], value: Any) -> Predicate:
        def check(rec: Mapping[str, Any]) -> bool:
            """Evaluate the condition against one record."""
            field = self._resolve(rec, path)
            left, right = _comparable(field, value)
            if left is None or right is None:
                return compare is operator.ne if (left is None) != (right is None) else compare is operator.eq
            try:
                return compare(left, right)
            except TypeError:
                raise WhereError(f"Operator incompatible with operand types near '{'.'.join(path)}'") from None
        return check

    def _resolve(self, rec: Mapping[str, Any], path: list[str]) -> Any:
        return _field(rec, path, self.entity)

    def value(self) -> Any:
        """A literal: string, number, boolean, null, Guid(...) or DateTime(...)."""
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace('\\"', '"')
        if kind == "num":
            return Decimal(text)
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        if text == "Guid":
            return self._call_args(1)[0]
        if text == "DateTime":
            parts = [int(p) for p in self._call_args(None)]
            if len(parts) not in (3, 6):
                raise WhereError("DateTime expects (year, month, day[, hour, minute, second])")
            year, month, day, hour, minute, second = [*parts, 0, 0, 0][:6]
            try:
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except ValueError as exc:
                raise WhereError(f"Invalid DateTime: {exc}") from None
        raise WhereError(f"Value expected near '{text}'")

    def _call_args(self, count: int | None) -> list[Any]:
        self.take("(")
        args = [self.value()]
        while self.peek() == ",":
            self.take(",")
            args.append(self.value())
        self.take(")")
        if count is not None and len(args) != count:
            raise WhereError("Wrong number of arguments")
        return args


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda rec: a(rec) or b(rec)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda rec: a(rec) and b(rec)


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    # Xero compares dates as DateTimes, strings case-insensitively, ids ignoring case.
    if isinstance(left, date) or isinstance(right, date):
        return _as_datetime(left), _as_datetime(right)
    if isinstance(left, str) and isinstance(right, str):
        return left.lower(), right.lower()
    if isinstance(left, bool) or isinstance(right, bool):
        return left, right
    if isinstance(left, int | Decimal) and isinstance(right, int | Decimal):
        return Decimal(left), Decimal(right)
    return left, right


def _as_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value
