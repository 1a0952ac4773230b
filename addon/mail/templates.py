"""Reminder templates: sandboxed Jinja2, checked at save time (syntax errors and unknown variables are
reported with their line), rendered with StrictUndefined so nothing silently prints as empty."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from addon.domain.dunning.statutory import StatutoryClaim
from addon.domain.statements.text import minor_units

# A statutory claim's fields, as the domain defines them: the template variables and the context agree.
STATUTORY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(StatutoryClaim))
# What a template may use. A dict is an object (its attributes), a list marks a list of such objects,
# None is a plain value. Documented in docs/dunning.md; keep the two in step.
INVOICE_FIELDS: dict[str, Any] = {
    "number": None, "amount_due": None, "currency": None, "due_date": None, "days_overdue": None,
    "payment_url": None, "stage": None, "tone": None,
    "statutory": dict.fromkeys(STATUTORY_FIELDS),
}
VARIABLES: dict[str, Any] = {
    "customer": {"name": None},
    "company": {"name": None, "email": None},
    "invoices": [INVOICE_FIELDS],
    "totals": [{"currency": None, "amount": None}],
    "stage": {"key": None, "tone": None},
    "reliable_payer": None,
    "payment_url": None,
    "unsubscribe_url": None,
    "today": None,
}
_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "AUD": "A$", "CAD": "C$", "NZD": "NZ$"}


@dataclass(frozen=True, slots=True)
class TemplateSource:
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    field: str  # "subject" or "body"
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.field} line {self.line}" if self.line else self.field
        return f"{where}: {self.message}"


class TemplateRejectedError(ValueError):
    """The template cannot be saved; ``problems`` carries field and line for the settings page."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    body: str


def money(amount: Decimal | int | str, currency: str = "") -> str:
    """Format an amount for people, in the currency's own decimals: 1234.5 GBP -> '£1,234.50', 10000 JPY ->
    '10,000 JPY', 12.345 KWD -> '12.345 KWD'; currencies without a symbol here keep their code."""
    places = minor_units(currency)
    value = Decimal(str(amount)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    symbol = _SYMBOLS.get(currency)
    text = f"{value:,.{places}f}"
    return f"{symbol}{text}" if symbol else f"{text} {currency}".strip()


def make_environment() -> ImmutableSandboxedEnvironment:
    """The one environment for reminder templates: sandboxed, strict and plain text."""
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                        keep_trailing_newline=True)
    env.filters["money"] = money
    return env


def validate_template(source: TemplateSource) -> list[TemplateProblem]:
    """Everything wrong with a template, each with its field and line; empty when it can be saved."""
    env = make_environment()
    problems: list[TemplateProblem] = []
    for field_name, text in (("subject", source.subject), ("body", source.body)):
        problems += _check(env, field_name, text)
    if not problems:
        try:
            render(source, sample_context(), env=env)
        except TemplateError as exc:  # e.g. a sandbox violation that only shows when running
            problems.append(TemplateProblem("body", getattr(exc, "lineno", None), str(exc)))
    return problems


def ensure_valid(source: TemplateSource) -> None:
    """Raise TemplateRejectedError when ``validate_template`` finds anything."""
    problems = validate_template(source)
    if problems:
        raise TemplateRejectedError(problems)


def render(source: TemplateSource, context: Mapping[str, Any],
           env: ImmutableSandboxedEnvironment | None = None) -> RenderedEmail:
    """Render subject and body; the subject is collapsed to one line (headers cannot hold newlines)."""
    env = env or make_environment()
    subject = " ".join(env.from_string(source.subject).render(context).split())
    body = env.from_string(source.body).render(context)
    return RenderedEmail(subject=subject, body=body)


def _check(env: ImmutableSandboxedEnvironment, field_name: str, text: str) -> list[TemplateProblem]:
    try:
        tree = env.parse(text)
    except TemplateSyntaxError as exc:
        return [TemplateProblem(field_name, exc.lineno, exc.message or str(exc))]
    problems = [TemplateProblem(field_name, line, msg) for line, msg in _unknown_names(tree)]
    try:
        env.from_string(text)  # compiling also catches unknown filters and tests
    except TemplateSyntaxError as exc:
        problems.append(TemplateProblem(field_name, exc.lineno, exc.message or str(exc)))
    return sorted(problems, key=lambda p: p.line or 0)


def _unknown_names(tree: nodes.Template) -> list[tuple[int, str]]:
    """Unknown variables and attributes, with the line of their first use."""
    scopes: dict[str, Any] = dict(VARIABLES)
    for loop in tree.find_all(nodes.For):
        # ``{% for inv in invoices %}``: ``inv`` has the fields of one invoice.
        if isinstance(loop.iter, nodes.Name) and isinstance(loop.target, nodes.Name):
            schema = VARIABLES.get(loop.iter.name)
            if isinstance(schema, list):
                scopes[loop.target.name] = schema[0]
        scopes.setdefault("loop", None)
        for declared in _names(loop.target):
            scopes.setdefault(declared, None)
    targets = [a.target for a in tree.find_all(nodes.Assign)]
    targets += [a.target for a in tree.find_all(nodes.AssignBlock)]
    for target in targets:
        for declared in _names(target):
            scopes.setdefault(declared, None)
    for macro in tree.find_all(nodes.Macro):
        scopes.setdefault(macro.name, None)
        for arg in macro.args:
            scopes.setdefault(arg.name, None)
    found: dict[str, tuple[int, str]] = {}
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in scopes:
            found.setdefault(name.name, (name.lineno, f"unknown variable '{name.name}'"))
    for node in tree.find_all(nodes.Getattr):
        path = _attr_path(node)
        if path is None or path[0] not in scopes:
            continue
        problem = _walk(scopes[path[0]], path)
        if problem:
            found.setdefault(problem, (node.lineno, problem))
    return sorted(found.values())


def _names(target: nodes.Node) -> list[str]:
    if isinstance(target, nodes.Name):
        return [target.name]
    return [n.name for n in target.find_all(nodes.Name)]


def _attr_path(node: nodes.Getattr) -> list[str] | None:
    parts = [node.attr]
    current: nodes.Node = node.node
    while isinstance(current, nodes.Getattr):
        parts.append(current.attr)
        current = current.node
    if not isinstance(current, nodes.Name):
        return None
    parts.append(current.name)
    return parts[::-1]


def _walk(schema: Any, path: list[str]) -> str | None:
    for i, attr in enumerate(path[1:], start=1):
        if isinstance(schema, list):
            return None  # list methods/filters are the template's business
        if not isinstance(schema, dict):
            return None  # attributes of plain values (e.g. date.year) are allowed
        if attr not in schema:
            return f"unknown variable '{'.'.join(path[: i + 1])}'"
        schema = schema[attr]
    return None


def sample_context() -> dict[str, Any]:
    """A realistic context for validation and the settings page's preview when no invoice is chosen."""
    from datetime import date

    claim = {"pack": "uk", "days_late": 47, "annual_rate": Decimal("12.00"), "interest": Decimal("15.45"),
             "compensation": Decimal("70.00"), "compensation_currency": "GBP",
             "legal_basis": "Late Payment of Commercial Debts (Interest) Act 1998"}
    invoice = {"number": "INV-0001", "amount_due": Decimal("1000.00"), "currency": "GBP",
               "due_date": date(2026, 10, 1), "days_overdue": 47, "payment_url": "https://pay.example/i/1",
               "stage": "final", "tone": "final", "statutory": claim}
    return {
        "customer": {"name": "Acme Trading Ltd"}, "company": {"name": "Example Supplies Ltd",
                                                              "email": "accounts@example.test"},
        "invoices": [invoice], "totals": [{"currency": "GBP", "amount": Decimal("1000.00")}],
        "stage": {"key": "final", "tone": "final"}, "reliable_payer": False,
        "payment_url": "https://pay.example/i/1", "unsubscribe_url": "https://app.example/u/token",
        "today": date(2026, 11, 17),
    }
