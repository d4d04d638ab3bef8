"""What counts as one reaction, and how reactions are summed up for clients."""

from __future__ import annotations

import pytest

from pigeon.actions.changes import check_emoji
from pigeon.common.errors import InvalidReaction
from pigeon.storage.changes import REACTORS_SHOWN, summarise


@pytest.mark.parametrize("emoji", ["👍", "👍🏽", "👩‍💻", "🇯🇵", "❤️", "#️⃣", "🏳️‍🌈"])
def test_one_emoji_is_a_reaction(emoji: str) -> None:
    assert check_emoji(emoji) == emoji


@pytest.mark.parametrize("value", ["", "a", "ok", "👍👍", "👍 ", "<b>", "1", "👍" * 20])
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(InvalidReaction):
        check_emoji(value)


def test_summaries_keep_first_use_order_and_show_the_first_reactors() -> None:
    many = list(range(1, REACTORS_SHOWN + 6))
    summary = summarise({"🎉": [3], "👍": many})
    assert [(r.emoji, r.count) for r in summary] == [("🎉", 1), ("👍", len(many))]
    assert summary[1].user_ids == many[:REACTORS_SHOWN]
