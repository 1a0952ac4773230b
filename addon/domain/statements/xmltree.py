"""Namespace-free navigation over lxml trees (camt versions .02-.08 differ only in namespace).

:func:`strip_namespaces` rewrites every tag to its local name once, after which lxml's own C-level
``find``/``findall`` with plain paths do the work.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

from lxml import etree

Element: TypeAlias = etree._Element


def strip_namespaces(root: Element) -> Element:
    """Rename every element to its local name (in place) and return the root."""
    for el in root.iter():
        tag = el.tag
        if isinstance(tag, str) and tag.startswith("{"):
            el.tag = tag.split("}", 1)[1]
    etree.cleanup_namespaces(root)
    return root


def local(el: Element) -> str:
    """Local name of an element ("" for comments and processing instructions)."""
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def children(el: Element, name: str) -> Iterator[Element]:
    """Direct children with the given name."""
    return iter(el.iterchildren(name))


def find(el: Element | None, path: str) -> Element | None:
    """First element along a slash-separated path."""
    return None if el is None else el.find(path)


def find_all(el: Element | None, path: str) -> list[Element]:
    """All elements matching a slash-separated path."""
    return [] if el is None else list(el.findall(path))


def text(el: Element | None, path: str | None = None) -> str | None:
    """Stripped text at a path, or None when absent or blank."""
    node = find(el, path) if path else el
    if node is None or node.text is None:
        return None
    value = str(node.text).strip()
    return value or None


def first_text(el: Element | None, *paths: str) -> str | None:
    """Text of the first path that has any."""
    for path in paths:
        value = text(el, path)
        if value:
            return value
    return None
