"""``python -m bench search``: full-text search over a million messages, per mode.

Loads the corpus of :mod:`bench.search_data` straight into the database of a fresh
server, then runs a mix of queries (English words, Chinese and Japanese words of two
characters and longer, planted needles, one conversation, second pages) through
``GET /api/v1/search/messages`` as the searchers, a few at a time, and reports p50/p95/p99
per kind of query (target: p95 <= 100 ms). Every answer is checked against the corpus
held in memory: each hit visible to the searcher and holding every word, as many hits
as there should be, in order; the needles found where the searcher may see them and
nowhere else; every page exactly the next best matches. A failed check exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from bench.accounts import SetupError, User, register_users
from bench.cluster import ClusterOptions, cluster_available
from bench.cpu import load_average
from bench.report import machine, write_json
from bench.search_data import EN, JA, ZH, Corpus, choose, load_postgres, load_sqlite, rows
from bench.servers import ServerError
from bench.serving import FAST_HASH, Served, print_settings, serve, settings_changed
from bench.stats import percentile

TARGET_P95_MS = 100.0
LIMIT = 20
SHORT = 3  # terms shorter than this are matched without the trigram index
SHORT_WINDOW = 5000  # the server's search.short_query_window (default)
BASELINE = "GET /users/me"


def add_search_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=("embedded", "cluster", "both"), default="both")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--searchers", type=int, default=4, help="users who search")
    parser.add_argument("--member-of", type=int, default=50, help="conversations per searcher")
    parser.add_argument("--queries", type=int, default=600, help="queries per mode")
    parser.add_argument("--concurrency", type=int, default=4, help="queries in flight")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", type=Path, default=None)


@dataclass(frozen=True)
class Query:
    kind: str
    user: User
    q: str
    conversation_id: int | None = None
    needle: tuple[int, int] | None = None  # where the needle may be seen, the only hit
    second_page: bool = False


@dataclass
class Checks:
    failures: int = 0
    examples: list[str] = field(default_factory=list)

    def fail(self, text: str) -> None:
        self.failures += 1
        if len(self.examples) < 20:
            self.examples.append(text)


def plan_queries(corpus: Corpus, users: list[User], count: int, seed: int) -> list[Query]:
    rng = random.Random(seed + 2)
    zh2 = [w for w in ZH if len(w) == 2]
    ja2 = [w for w in JA if len(w) == 2]
    ja3 = [w for w in JA if len(w) >= 3]
    makers = {
        "en word": lambda u: Query("en word", u, rng.choice(EN[5:])),
        "en two words": lambda u: Query("en two words", u, " ".join(rng.sample(EN[5:], 2))),
        "zh 2 chars": lambda u: Query("zh 2 chars", u, rng.choice(zh2)),
        "zh phrase": lambda u: Query("zh phrase", u, rng.choice(zh2) + rng.choice(zh2)),
        "ja 2 chars": lambda u: Query("ja 2 chars", u, rng.choice(ja2)),
        "ja 3+ chars": lambda u: Query("ja 3+ chars", u, rng.choice(ja3)),
        "needle": lambda u: _needle(corpus, u, rng),
        "one conversation": lambda u: Query(
            "one conversation",
            u,
            rng.choice([*EN[5:], *zh2]),
            conversation_id=rng.choice(list(corpus.floors[u.id])),
        ),
        "with page 2": lambda u: Query("with page 2", u, rng.choice(EN[5:]), second_page=True),
        "no match": lambda u: Query("no match", u, "zzq" + secrets.token_hex(3)),
        # Not a search: what any authenticated request costs here, for comparison.
        BASELINE: lambda u: Query(BASELINE, u, ""),
    }
    kinds = list(makers)
    return [makers[kinds[i % len(kinds)]](users[i % len(users)]) for i in range(count)]


def _needle(corpus: Corpus, user: User, rng: random.Random) -> Query:
    word, shown = rng.choice(corpus.needles[user.id])
    return Query("needle", user, word, needle=shown)


async def run_queries(
    api: str, queries: list[Query], concurrency: int, on_done: Any
) -> list[tuple[Query, list[float], list[dict[str, Any]]]]:
    """Each query's latencies (first page, and second if asked) and pages."""
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=f"{api}/api/v1", timeout=60, limits=limits) as http:

        async def page(query: Query, cursor: str | None) -> tuple[float, dict[str, Any]]:
            params: dict[str, Any] = {"q": query.q, "limit": LIMIT}
            if query.conversation_id is not None:
                params["conversation_id"] = query.conversation_id
            if cursor is not None:
                params["cursor"] = cursor
            headers = {"Authorization": f"Bearer {query.user.token}"}
            path = "/users/me" if query.kind == BASELINE else "/search/messages"
            t0 = time.perf_counter()
            response = await http.get(path, params=params, headers=headers)
            elapsed = time.perf_counter() - t0
            if response.status_code != 200:
                raise SetupError(f"search {params} failed: {response.status_code} {response.text}")
            return elapsed, response.json()

        async def one(query: Query) -> tuple[Query, list[float], list[dict[str, Any]]]:
            async with gate:
                took, first = await page(query, None)
                times, pages = [took], [first]
                if query.second_page and first["next_cursor"]:
                    took, second = await page(query, first["next_cursor"])
                    times.append(took)
                    pages.append(second)
                on_done()
                return query, times, pages

        return list(await asyncio.gather(*(one(q) for q in queries)))


def expected(corpus: Corpus, query: Query) -> list[tuple[int, int]]:
    """What the searcher should find, in the server's order: the share of the text the
    words cover, then newer first."""
    terms = [t.lower() for t in query.q.split()]
    short = all(len(t) < SHORT for t in terms)
    found = []
    for cid, floor in corpus.floors[query.user.id].items():
        if query.conversation_id is not None and cid != query.conversation_id:
            continue
        low = max(floor, corpus.last_seq[cid] - SHORT_WINDOW) if short else floor
        for seq in range(low + 1, corpus.last_seq[cid] + 1):
            order, text = corpus.texts[(cid, seq)]
            if (cid, seq) in corpus.recalled:
                continue
            folded = text.lower()
            if all(t in folded for t in terms):
                covered = sum(len(text) - len(folded.replace(t, "")) for t in terms)
                found.append((covered / len(text), order, (cid, seq)))
    return [key for _, _, key in sorted(found, reverse=True)]


def check(corpus: Corpus, query: Query, pages: list[dict[str, Any]], checks: Checks) -> None:
    want = expected(corpus, query)
    allowed = set(want)
    seen: list[tuple[int, int]] = []
    for number, page in enumerate(pages, start=1):
        keys = [(h["message"]["conversation_id"], h["message"]["seq"]) for h in page["hits"]]
        order = [(-h["score"], -h["message"]["id"]) for h in page["hits"]]
        if order != sorted(order):
            checks.fail(f"{query.kind} {query.q!r} page {number}: not in rank order")
        for key in keys:
            if key not in allowed:
                checks.fail(f"{query.kind} {query.q!r}: {key} is not a visible match")
        if set(keys) & set(seen):
            checks.fail(f"{query.kind} {query.q!r}: page {number} repeats hits")
        seen += keys
        if page["hits"] and not any(p["match"] for h in page["hits"] for p in h["snippet"]):
            checks.fail(f"{query.kind} {query.q!r}: no match marked in the snippets")
    wanted = min(len(want), LIMIT * len(pages))
    if len(seen) != wanted:
        checks.fail(f"{query.kind} {query.q!r}: {len(seen)} hits, expected {wanted}")
    if (pages[-1]["next_cursor"] is None) != (len(want) <= LIMIT * len(pages)):
        checks.fail(f"{query.kind} {query.q!r}: next_cursor wrong for {len(want)} matches")
    if seen != want[: len(seen)]:
        checks.fail(f"{query.kind} {query.q!r}: not the best matches in order")
    if query.needle is not None and seen != [query.needle]:
        checks.fail(f"needle {query.q!r}: found {seen}, expected only {query.needle}")


def pg_url_of(copts: ClusterOptions, served: Served) -> str:
    parts = urlsplit(copts.pg_url)
    database: str = served.describe["database"]
    return urlunsplit(("postgresql", parts.netloc, "/" + database, "", ""))


def run_mode(args: argparse.Namespace, served: Served) -> dict[str, Any]:
    from tqdm import tqdm

    run_id = secrets.randbits(32)
    searchers = asyncio.run(register_users(served.api, args.searchers, run_id))
    corpus = Corpus(conversations=args.conversations, messages=args.messages)
    sizes = choose(corpus, [u.id for u in searchers], args.member_of, args.seed)
    start_ms = int(time.time() * 1000) - corpus.messages

    def make_rows(senders: list[int]) -> Any:
        return rows(corpus, sizes, senders, args.seed, start_ms)

    t0 = time.monotonic()
    with tqdm(
        total=corpus.messages, desc=f"load {served.mode}", unit="msg", disable=args.no_progress
    ) as bar:
        if served.mode == "embedded":
            assert served.data_dir is not None
            path = served.data_dir / "pigeon.db"
            load_sqlite(path, make_rows, corpus, 200, start_ms, bar.update)
        else:
            url = pg_url_of(args.copts, served)
            asyncio.run(load_postgres(url, make_rows, corpus, 200, start_ms, bar.update))
    load_s = time.monotonic() - t0
    print(
        f"{served.mode}: {corpus.messages:,} messages in {corpus.conversations:,} "
        f"conversations loaded in {load_s:.0f}s",
        file=sys.stderr,
    )
    queries = plan_queries(corpus, searchers, args.queries, args.seed)
    with tqdm(
        total=len(queries), desc=f"search {served.mode}", unit="q", disable=args.no_progress
    ) as bar:
        t0 = time.monotonic()
        answered = asyncio.run(
            run_queries(served.api, queries, args.concurrency, lambda: bar.update(1))
        )
        query_s = time.monotonic() - t0
    checks = Checks()
    latencies: dict[str, list[float]] = defaultdict(list)
    hits: dict[str, list[int]] = defaultdict(list)
    for query, times, pages in answered:
        if query.kind == BASELINE:
            latencies[BASELINE].append(times[0] * 1000)
            continue
        check(corpus, query, pages, checks)
        latencies[query.kind].append(times[0] * 1000)
        hits[query.kind].append(len(pages[0]["hits"]))
        if len(times) > 1:
            latencies["page 2"].append(times[1] * 1000)
    every = sorted(ms for kind in latencies if kind != BASELINE for ms in latencies[kind])
    by_kind = {kind: _figures(values, hits.get(kind)) for kind, values in latencies.items()}
    overall = _figures(every, None)
    return {
        "label": f"search {served.mode}",
        "ok": checks.failures == 0,
        "messages": corpus.messages,
        "conversations": corpus.conversations,
        "searchers": len(searchers),
        "visible_per_searcher": round(
            sum(corpus.last_seq[c] - f for fl in corpus.floors.values() for c, f in fl.items())
            / len(searchers)
        ),
        "load_s": round(load_s, 1),
        "queries": len(every),
        "queries_per_s": round(len(every) / query_s, 1),
        "overall": overall,
        "by_kind": by_kind,
        "target_p95_ms": TARGET_P95_MS,
        "target_met": overall["p95_ms"] <= TARGET_P95_MS,
        "check": {"failures": checks.failures, "examples": checks.examples},
        "cluster": served.describe or None,
    }


def _figures(values: list[float], hit_counts: list[int] | None) -> dict[str, Any]:
    ordered = sorted(values)
    out: dict[str, Any] = {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 1),
        "p95_ms": round(percentile(ordered, 95), 1),
        "p99_ms": round(percentile(ordered, 99), 1),
        "max_ms": round(ordered[-1], 1) if ordered else 0.0,
    }
    if hit_counts:
        out["mean_hits"] = round(sum(hit_counts) / len(hit_counts), 1)
    return out


def print_mode(figures: dict[str, Any]) -> None:
    verdict = "PASS" if figures["target_met"] else "FAIL"
    overall = figures["overall"]
    print(
        f"\n{figures['label']}: {figures['queries']} queries over {figures['messages']:,} "
        f"messages ({figures['visible_per_searcher']:,} visible per searcher), "
        f"p50 {overall['p50_ms']} ms, p95 {overall['p95_ms']} ms, p99 {overall['p99_ms']} ms "
        f"(target p95 <= {TARGET_P95_MS:.0f} ms: {verdict})"
    )
    print(f"  {'query':<18}{'n':>5}{'hits':>6}{'p50':>9}{'p95':>9}{'p99':>9}  ms")
    for kind, row in figures["by_kind"].items():
        print(
            f"  {kind:<18}{row['count']:>5}{row.get('mean_hits', ''):>6}"
            f"{row['p50_ms']:>9}{row['p95_ms']:>9}{row['p99_ms']:>9}"
        )
    print(f"  correctness: {'ok' if figures['ok'] else 'FAILED'}")
    for example in figures["check"]["examples"]:
        print(f"    {example}")


def main_search(args: argparse.Namespace, scratch: Any, copts: ClusterOptions) -> int:
    modes = ["embedded", "cluster"] if args.mode == "both" else [args.mode]
    skipped = None
    if "cluster" in modes and (reason := cluster_available(copts)) is not None:
        if args.mode == "cluster":
            raise SystemExit(f"cluster mode not available: {reason}")
        modes.remove("cluster")
        skipped = reason
        print(f"cluster mode not measured: {reason}", file=sys.stderr)
    args.copts = copts
    print_settings(FAST_HASH, copts.env)
    load_before = load_average()
    results = []
    try:
        for mode in modes:
            with serve(mode, scratch, copts, FAST_HASH) as served:
                results.append(run_mode(args, served))
            print_mode(results[-1])
    except (ServerError, SetupError, RuntimeError) as exc:
        scratch.keep = True
        print(f"\n!!! {exc}", file=sys.stderr)
        return 2
    options = {k: v for k, v in vars(args).items() if k not in ("json", "copts", "server_env")}
    payload = {
        "scenario": "search",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "options": options,
        "server_settings_changed": settings_changed(FAST_HASH, copts.env),
        "cluster_skipped": skipped,
        "runs": results,
    }
    path = write_json("search", payload, args.json)
    print(f"\nresults written to {path}")
    if not all(r["ok"] for r in results):
        scratch.keep = True
        print("\n!!! FAILED: a correctness check failed, see above", file=sys.stderr)
        return 1
    return 0
