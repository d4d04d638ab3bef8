"""Snippets: the stretch around the first match, matches marked, cuts shown."""

from __future__ import annotations

from pigeon.common.snippets import ELLIPSIS, matches, snippet


def parts(text: str, terms: list[str], **options: int) -> list[tuple[str, bool]]:
    return [(p.text, p.match) for p in snippet(text, terms, **options)]


def test_short_text_is_whole_with_every_match_marked() -> None:
    assert parts("Apple pie and apple jam", ["apple"]) == [
        ("Apple", True),
        (" pie and ", False),
        ("apple", True),
        (" jam", False),
    ]


def test_cjk_terms_and_overlaps_merge() -> None:
    assert parts("我们明天去东京", ["东京", "去东"]) == [("我们明天", False), ("去东京", True)]
    assert matches("東京タワー東京", ["東京"]) == [(0, 2), (5, 7)]


def test_long_text_is_cut_around_the_first_match() -> None:
    text = "x" * 100 + "needle" + "y" * 100
    got = parts(text, ["needle"], before=4, width=20)
    assert got == [
        (ELLIPSIS, False),
        ("xxxx", False),
        ("needle", True),
        ("y" * 10, False),
        (ELLIPSIS, False),
    ]


def test_a_match_near_the_end_still_fills_the_width() -> None:
    text = "a" * 50 + "end"
    got = parts(text, ["end"], before=2, width=10)
    assert got == [(ELLIPSIS, False), ("a" * 7, False), ("end", True)]


def test_letters_that_grow_when_lowered_keep_offsets_true() -> None:
    text = "İstanbul and Ankara"
    assert [p.text for p in snippet(text, ["Ankara"]) if p.match] == ["Ankara"]
