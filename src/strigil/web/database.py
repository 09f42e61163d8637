"""One unit of work per request: a SQLAlchemy session that commits when the route succeeds."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session, sessionmaker

from strigil.store.database import check_database_files

__all__ = ["DB", "UnitOfWorkRoute", "get_db"]


def get_db(request: Request) -> Iterator[Session]:
    """The request's database session; commits on success, rolls back on any error."""
    check_database_files(request.app.state.engine)  # a damaged or read-only SQLite file: 503, no crash
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    db = factory()
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


# scope="function": the commit happens before the response is sent, so an acknowledged write is stored.
DB = Annotated[Session, Depends(get_db, scope="function")]


def _commit_in_worker_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a sync route so that its unit of work commits in its own worker thread, right after it returns."""
    if inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session):
                value.commit()
        return result

    return run


class UnitOfWorkRoute(APIRoute):
    """A route whose database work is committed before FastAPI serialises the answer.

    FastAPI ends `get_db` only after it has serialised the response, and for a sync route it serialises
    in the worker-thread pool. A route that wrote (and so holds SQLite's single-writer lock, or row locks
    on PostgreSQL) would then wait for a free worker while every worker waits for its lock: a deadlock
    that only the 15 s busy timeout broke (seen as 503s and multi-second tails under 50 clients).
    Committing in the route's own thread releases the locks before any further wait. `get_db` still
    commits afterwards (nothing left) or rolls back on error.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _commit_in_worker_thread(endpoint), **kwargs)
