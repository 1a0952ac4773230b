"""Template validation at save time (line numbers), sandboxing and strict rendering."""

from __future__ import annotations

from decimal import Decimal

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from addon.mail import (
    DEFAULT_TEMPLATES,
    TemplateRejectedError,
    TemplateSource,
    ensure_valid,
    pick_template,
    render,
    sample_context,
    validate_template,
)
from addon.mail.templates import money


def body(text: str) -> TemplateSource:
    return TemplateSource("Reminder from {{ company.name }}", text)


@pytest.mark.parametrize("key", sorted(DEFAULT_TEMPLATES))
def test_shipped_templates_validate_and_render(key):
    source = DEFAULT_TEMPLATES[key]
    assert validate_template(source) == []
    rendered = render(source, sample_context())
    assert "Acme Trading Ltd" in rendered.body
    assert "INV-0001" in rendered.body
    assert "\n" not in rendered.subject


def test_syntax_error_is_reported_with_its_line():
    [problem] = validate_template(body("Hello {{ customer.name }}\n\n{% for inv in invoices %}\n{{ inv.number }\n"))
    assert (problem.field, problem.line) == ("body", 4)
    assert "body line 4" in str(problem)


def test_unclosed_block_is_reported():
    [problem] = validate_template(body("Hello\n{% if reliable_payer %}\nthanks\n"))
    assert problem.field == "body"
    assert "endif" in problem.message


@pytest.mark.parametrize(("text", "line", "name"), [
    ("Hello {{ custmer.name }}", 1, "custmer"),
    ("Hello\n\n{{ customer.nmae }}", 3, "customer.nmae"),
    ("{% for inv in invoices %}\n{{ inv.number }}\n{{ inv.amount }}\n{% endfor %}", 3, "inv.amount"),
    ("{% for inv in invoices %}{{ inv.statutory.intrest }}{% endfor %}", 1, "inv.statutory.intrest"),
    ("a\nb\n{{ unsubscribe_link }}", 3, "unsubscribe_link"),
])
def test_unknown_variables_are_reported_with_their_line(text, line, name):
    problems = validate_template(body(text))
    assert [(p.line, p.message) for p in problems] == [(line, f"unknown variable '{name}'")]


def test_unknown_variable_in_subject():
    [problem] = validate_template(TemplateSource("Pay {{ amount }}", "ok"))
    assert (problem.field, problem.line, problem.message) == ("subject", 1, "unknown variable 'amount'")


def test_locals_loop_and_attributes_of_plain_values_are_allowed():
    text = ("{% set n = invoices|length %}{{ n }} {% for inv in invoices %}{{ loop.index }}. "
            "{{ inv.due_date.year }} {{ inv.amount_due|money(inv.currency) }}{% endfor %}"
            "{% for t in totals %}{{ t.amount|money(t.currency) }}{% endfor %}{{ today.isoformat() }}")
    assert validate_template(body(text)) == []


def test_unknown_filter_is_reported():
    [problem] = validate_template(body("line\n{{ customer.name|shout }}"))
    assert problem.line == 2
    assert "shout" in problem.message


def test_ensure_valid_raises_with_every_problem():
    with pytest.raises(TemplateRejectedError) as info:
        ensure_valid(TemplateSource("{{ nope }}", "{{ also_nope }}\n{% if %}"))
    fields = {p.field for p in info.value.problems}
    assert fields == {"subject", "body"}


def test_sandbox_blocks_python_internals():
    evil = body("{{ customer.name.__class__.__mro__ }}")
    problems = validate_template(evil)
    assert problems
    assert "unsafe" in problems[0].message
    with pytest.raises(SecurityError):
        render(evil, sample_context())


def test_rendering_is_strict_about_missing_values():
    context = sample_context()
    del context["customer"]
    with pytest.raises(UndefinedError):
        render(body("{{ customer.name }}"), context)


def test_subject_is_one_line():
    rendered = render(TemplateSource("Overdue:\n{{ customer.name }}\n", "x"), sample_context())
    assert rendered.subject == "Overdue: Acme Trading Ltd"


@pytest.mark.parametrize(("amount", "currency", "text"), [
    (Decimal("1234.5"), "GBP", "£1,234.50"), (Decimal("0.005"), "EUR", "€0.01"),
    (Decimal("99"), "CHF", "99.00 CHF"), (7, "", "7.00"),
    # Each currency's own decimals: the yen has none, the Kuwaiti dinar three.
    (Decimal("10000.00"), "JPY", "10,000 JPY"), (Decimal("12.345"), "KWD", "12.345 KWD"),
    (Decimal("1200"), "BHD", "1,200.000 BHD"),
])
def test_money_filter(amount, currency, text):
    assert money(amount, currency) == text


def test_per_language_templates_fall_back_to_english_then_defaults():
    nl = TemplateSource("Herinnering", "Beste {{ customer.name }}")
    en = TemplateSource("Reminder", "Dear {{ customer.name }}")
    custom = {("overdue_7", "nl"): nl, ("overdue_7", "en"): en}
    assert pick_template("overdue_7", "nl", "firm", custom) is nl
    assert pick_template("overdue_7", "de", "firm", custom) is en
    assert pick_template("overdue_14", "nl", "firm", custom) is DEFAULT_TEMPLATES["overdue_14"]
    assert pick_template("custom_stage", "en", "urgent") is DEFAULT_TEMPLATES["overdue_30"]


def test_macros_tuple_loops_and_block_sets_declare_their_names():
    text = ("{% macro line(i) %}{{ i.number }}{% endmacro %}{% for inv in invoices %}{{ line(inv) }}{% endfor %}"
            "{% for a, b in [(1, 2)] %}{{ a }}{{ b }}{% endfor %}{% set sig %}x{% endset %}{{ sig }}")
    assert validate_template(body(text)) == []
