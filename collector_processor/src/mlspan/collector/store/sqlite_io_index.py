"""Finding runs by artifact id through the FTS5 indexes over ``runs.inputs``/``outputs``.

The indexes hold tokens, not ids: the ``ascii`` tokenizer splits on ASCII punctuation
other than ``IO_TOKEN_CHARS`` and folds ASCII case. A content digest is one token, but
any id works: a query asks for rows holding every token of the id, and each row found
is checked for the id itself, so answers are exact whatever the id looks like.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Collection, Generator
from contextlib import closing
from typing import Final

from mlspan.collector.store.records import INPUT
from mlspan.collector.store.sqlite_schema import ID_SEPARATOR, IO_TOKEN_CHARS, io_index

_TOKEN: Final = re.compile(f"[0-9A-Za-z{re.escape(IO_TOKEN_CHARS)}\\u0080-\\U0010ffff]+")
PREFIX_SCAN_ROWS: Final = 2000
"""Rows looked at per index when completing an id prefix: a short prefix can match
many rows, and prefix completion only needs to tell one id from several."""


def column(direction: str) -> str:
    """The runs column holding a direction's artifact ids."""
    return "inputs" if direction == INPUT else "outputs"


def _query(ids: Collection[str]) -> tuple[str, list[str]]:
    """An FTS5 query matching rows that may hold any of ``ids``, and the ids that have
    no token at all (found only by scanning)."""
    groups: list[str] = []
    tokenless: list[str] = []
    for artifact_id in ids:
        tokens = _TOKEN.findall(artifact_id)
        if not tokens:
            tokenless.append(artifact_id)
        elif len(tokens) == 1:
            groups.append(f'"{tokens[0]}"')
        else:
            groups.append("(" + " AND ".join(f'"{t}"' for t in tokens) + ")")
    return " OR ".join(groups), tokenless


def _prefix_query(prefix: str) -> str:
    """An FTS5 query matching rows that may hold an id starting with ``prefix``."""
    tokens = _TOKEN.findall(prefix)
    if not tokens:
        return ""
    open_ended = _TOKEN.fullmatch(prefix[-1]) is not None
    terms = [f'"{t}"' for t in tokens]
    if open_ended:
        terms[-1] += " *"
    return " AND ".join(terms)


def _rows(
    db: sqlite3.Connection, direction: str, query: str
) -> Generator[tuple[str, str], None, None]:
    """``(run_id, ids)`` of the rows the index matches, lazily (callers may stop early:
    closing the generator finalizes the statement, so no read snapshot stays open)."""
    if not query:
        return
    name = column(direction)
    index = io_index(name)
    yield from db.execute(
        f"SELECT r.run_id, r.{name} FROM {index} JOIN runs r ON r.seq = {index}.rowid "
        f"WHERE {index} MATCH ?",
        (query,),
    )


def _scan(
    db: sqlite3.Connection, direction: str, ids: list[str]
) -> Generator[tuple[str, str], None, None]:
    """Rows whose ids contain any of ``ids`` as text (a full scan; only for ids that
    have no token, which mlspan's own ids never are)."""
    name = column(direction)
    for artifact_id in ids:
        yield from db.execute(
            f"SELECT run_id, {name} FROM runs WHERE instr({name}, ?) > 0", (artifact_id,)
        )


def linked_runs(
    db: sqlite3.Connection, ids: Collection[str], direction: str
) -> dict[str, list[str]]:
    """The runs whose ``direction`` side names each of ``ids`` (runs sorted by id)."""
    wanted = set(ids)
    query, tokenless = _query(wanted)
    found: dict[str, set[str]] = {}
    for source in (_rows(db, direction, query), _scan(db, direction, tokenless)):
        for run_id, linked in source:
            for artifact_id in linked.split(ID_SEPARATOR):
                if artifact_id in wanted:
                    found.setdefault(artifact_id, set()).add(run_id)
    return {artifact_id: sorted(runs) for artifact_id, runs in found.items()}


def existing(db: sqlite3.Connection, ids: Collection[str], directions: tuple[str, ...]) -> set[str]:
    """Which of ``ids`` some run names, looking in ``directions`` in order and stopping
    as soon as every id is found (an artifact has few producers, so the outputs index
    answers most ids in a few rows even when a model has many consumers)."""
    remaining = set(ids)
    found: set[str] = set()
    for direction in directions:
        if not remaining:
            break
        query, tokenless = _query(remaining)
        for source in (_rows(db, direction, query), _scan(db, direction, tokenless)):
            with closing(source):
                for _, linked in source:
                    hits = remaining.intersection(linked.split(ID_SEPARATOR))
                    found |= hits
                    remaining -= hits
                    if not remaining:
                        return found
    return found


def with_prefix(
    db: sqlite3.Connection, prefix: str, limit: int, directions: tuple[str, ...]
) -> list[str]:
    """Up to ``limit`` artifact ids starting with ``prefix``, sorted."""
    query = _prefix_query(prefix)
    if not query:
        return []
    found: set[str] = set()
    for direction in directions:
        with closing(_rows(db, direction, query)) as rows:
            for scanned, (_, linked) in enumerate(rows):
                found.update(a for a in linked.split(ID_SEPARATOR) if a.startswith(prefix))
                if len(found) >= limit or scanned >= PREFIX_SCAN_ROWS:
                    break
    return sorted(found)[:limit]
