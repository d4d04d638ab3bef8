"""The search benchmark at a tiny size, and its checks catching wrong answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.accounts import User
from bench.search_cli import Checks, Query, check, expected
from bench.search_data import Corpus, choose, rows
from tests.bench.test_bench_scenarios import run_bench


def tiny_corpus() -> tuple[Corpus, list[int]]:
    corpus = Corpus(conversations=12, messages=600)
    sizes = choose(corpus, [100, 101], member_of=6, seed=3)
    list(rows(corpus, sizes, [1, 2], seed=3, start_ms=0))
    return corpus, sizes


def test_needles_are_visible_once_and_planted_where_they_must_not_be_found() -> None:
    corpus, _ = tiny_corpus()
    for user, needles in corpus.needles.items():
        assert len(needles) == 3
        for word, shown in needles:
            query = Query("needle", User(user, "s", "t"), word, needle=shown)
            assert expected(corpus, query) == [shown]
            holders = [key for key, (text, _) in corpus.planted.items() if word in text]
            assert len(holders) == 4  # seen, before joining, recalled, elsewhere


def test_the_checks_refuse_an_invisible_hit_and_a_missing_one() -> None:
    corpus, _ = tiny_corpus()
    user, (word, shown) = 100, corpus.needles[100][0]
    query = Query("needle", User(user, "s", "t"), word, needle=shown)

    def hit(key: tuple[int, int], score: float = 1.0) -> dict[str, object]:
        message = {"id": key[0] * 1000 + key[1], "conversation_id": key[0], "seq": key[1]}
        return {"message": message, "score": score, "snippet": [{"text": word, "match": True}]}

    good = Checks()
    check(corpus, query, [{"hits": [hit(shown)], "next_cursor": None}], good)
    assert good.failures == 0, good.examples
    elsewhere = next(k for k, (t, _) in corpus.planted.items() if t == f"elsewhere {word}")
    bad = Checks()
    check(corpus, query, [{"hits": [hit(shown), hit(elsewhere, 0.5)], "next_cursor": None}], bad)
    assert any("not a visible match" in e for e in bad.examples)
    empty = Checks()
    check(corpus, query, [{"hits": [], "next_cursor": None}], empty)
    assert empty.failures > 0


@pytest.mark.timeout(120)
def test_search_scenario_runs_clean_at_a_tiny_size(tmp_path: Path) -> None:
    result = run_bench(
        tmp_path, "search", "--mode", "embedded", "--messages", "3000", "--conversations",
        "60", "--searchers", "2", "--member-of", "9", "--queries", "33",
    )  # fmt: skip
    (run,) = result["runs"]
    assert run["ok"], run["check"]
    assert run["messages"] >= 3000
    assert run["queries"] >= 30  # the baseline requests are not searches
    assert run["by_kind"]["needle"]["mean_hits"] == 1.0
