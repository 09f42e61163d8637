"""Files that hold records are the owner's alone: database files, backups and exports of patient data 0600,
folders Strigil makes 0700.

SQLite creates its `-wal` and `-shm` files with the database file's permissions, so creating the database
file 0600 before SQLite opens it keeps all three private. An existing folder (a home the administrator
chose, which may be shared like /srv) is left as it is; an existing database file is left as it is too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

__all__ = ["FILE_MODE", "FOLDER_MODE", "open_private", "private_file", "private_folder"]

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(folder: Path) -> None:
    """Make `folder` and any missing parents, each readable by the owner only."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=FOLDER_MODE, exist_ok=True)
        os.chmod(path, FOLDER_MODE)  # mkdir's mode passes through the umask, which may not be 077


def open_private(path: Path, mode: str = "w", **options: Any) -> IO[Any]:
    """Create `path` with mode 0600 (its missing folders as `private_folder`) and open it to write in `mode`
    ("w" or "wb"; `options` go to `open`). FileExistsError if it exists: an export never overwrites a file.

    The mode is set when the file is made, so no one else can open it between its creation and a chmod.
    """
    private_folder(path.parent)
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags, FILE_MODE)
    try:
        os.chmod(path, FILE_MODE)  # os.open's mode passes through the umask, which may take more away
        return os.fdopen(descriptor, mode, **options)
    except BaseException:
        os.close(descriptor)
        raise


def private_file(path: Path, *, exclusive: bool = False) -> None:
    """Create `path` empty with mode 0600 (its folder as `private_folder`); leave an existing file alone,
    or with `exclusive` raise FileExistsError for it."""
    try:
        open_private(path, "wb").close()
    except FileExistsError:
        if exclusive:
            raise
