"""One unit of work per request: a SQLAlchemy session that commits when the route succeeds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["DB", "get_db"]


def get_db(request: Request) -> Iterator[Session]:
    """The request's database session; commits on success, rolls back on any error."""
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
