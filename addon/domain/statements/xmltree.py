"""Namespace-agnostic navigation over lxml trees (camt versions .02-.08 differ only in namespace)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

from lxml import etree

Element: TypeAlias = etree._Element


def local(el: Element) -> str:
    """Local name of an element, without its namespace."""
    tag = el.tag
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def children(el: Element, name: str) -> Iterator[Element]:
    """Direct children with the given local name."""
    return (c for c in el if local(c) == name)


def find(el: Element | None, path: str) -> Element | None:
    """First element along a slash-separated path of local names."""
    current = el
    for step in path.split("/"):
        if current is None:
            return None
        current = next(children(current, step), None)
    return current


def find_all(el: Element | None, path: str) -> list[Element]:
    """All elements matching a slash-separated path of local names."""
    if el is None:
        return []
    level = [el]
    for step in path.split("/"):
        level = [c for parent in level for c in children(parent, step)]
    return level


def text(el: Element | None, path: str | None = None) -> str | None:
    """Stripped text at a path, or None when absent or blank."""
    node = find(el, path) if path else el
    if node is None or node.text is None:
        return None
    value = node.text.strip()
    return value or None


def first_text(el: Element | None, *paths: str) -> str | None:
    """Text of the first path that has any."""
    for path in paths:
        value = text(el, path)
        if value:
            return value
    return None
