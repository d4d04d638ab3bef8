"""A hit in context: a short stretch of a message around its first match, in parts.

The snippet is a list of parts, each marked as a match or not, rather than text with
markup: a client renders it without escaping anything, and it does not depend on how the
client counts characters (UTF-16 units in browsers, code points here).
"""

from __future__ import annotations

from pigeon.common.models import SnippetPart

ELLIPSIS = "…"


def matches(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Where the terms occur in ``text`` (case-insensitively), merged and in order."""
    folded = text.lower()
    if len(folded) != len(text):  # a few letters grow when lowered: keep the offsets true
        folded = text
    else:
        terms = [t.lower() for t in terms]
    spans: list[tuple[int, int]] = []
    for term in terms:
        start = folded.find(term)
        while term and start != -1:
            spans.append((start, start + len(term)))
            start = folded.find(term, start + len(term))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(text: str, terms: list[str], *, before: int = 24, width: int = 96) -> list[SnippetPart]:
    """Up to ``width`` characters of ``text`` from ``before`` characters ahead of the
    first match, the matches in it marked; an ellipsis where the text was cut."""
    spans = matches(text, terms)
    start = max(0, spans[0][0] - before) if spans else 0
    end = min(len(text), start + width)
    start = max(0, min(start, end - width))
    parts: list[SnippetPart] = []
    if start > 0:
        parts.append(SnippetPart(text=ELLIPSIS, match=False))
    at = start
    for span_start, span_end in spans:
        span_start, span_end = max(span_start, start), min(span_end, end)
        if span_start >= span_end:
            continue
        if span_start > at:
            parts.append(SnippetPart(text=text[at:span_start], match=False))
        parts.append(SnippetPart(text=text[span_start:span_end], match=True))
        at = span_end
    if at < end:
        parts.append(SnippetPart(text=text[at:end], match=False))
    if end < len(text):
        parts.append(SnippetPart(text=ELLIPSIS, match=False))
    return parts
