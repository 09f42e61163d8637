"""Concurrent session recordings to one episode all succeed, numbered 1..n without gaps (SQLite, PostgreSQL).

Each thread records through its own unit of work (its own pooled connection), as concurrent web requests do.
Before the episode lock two writers read the same history, picked the same next number and one failed on the
unique (episode_id, number).
"""

from __future__ import annotations

import datetime as dt
import threading

from record_factories import clinic_with_episode, session_doc
from sqlalchemy import select

from strigil.services import sessions
from strigil.store.database import Database
from strigil.store.record import SessionRow

TODAY = dt.date(2026, 6, 1)
THREADS = 8
SESSIONS_PER_THREAD = 3


def test_concurrent_recordings_to_one_episode_all_succeed_numbered_without_gaps(db: Database) -> None:
    clinic_id, episode_id = clinic_with_episode(db)
    start = threading.Barrier(THREADS)
    numbers: list[int] = []
    failures: list[BaseException] = []
    guard = threading.Lock()

    def writer() -> None:
        try:
            start.wait(timeout=30)
            for _ in range(SESSIONS_PER_THREAD):
                with db.unit_of_work() as s:
                    saved = sessions.record_session(
                        s, clinic_id, session_doc(episode_id), by="ana", today=TODAY
                    )
                with guard:
                    numbers.append(saved.number)
        except BaseException as exc:  # collected so the main thread can report every failure
            with guard:
                failures.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert failures == []
    expected = list(range(1, THREADS * SESSIONS_PER_THREAD + 1))
    assert sorted(numbers) == expected
    with db.unit_of_work() as s:
        stored = s.scalars(
            select(SessionRow.number).where(SessionRow.episode_id == episode_id).order_by(SessionRow.number)
        ).all()
    assert list(stored) == expected
