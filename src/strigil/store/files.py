"""Files that hold records are the owner's alone: database files and backups 0600, folders Strigil makes 0700.

SQLite creates its `-wal` and `-shm` files with the database file's permissions, so creating the database
file 0600 before SQLite opens it keeps all three private. An existing folder (a home the administrator
chose, which may be shared like /srv) is left as it is; an existing database file is left as it is too.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["FILE_MODE", "FOLDER_MODE", "private_file", "private_folder"]

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(folder: Path) -> None:
    """Make `folder` and any missing parents, each readable by the owner only."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=FOLDER_MODE, exist_ok=True)
        os.chmod(path, FOLDER_MODE)  # mkdir's mode passes through the umask, which may not be 077


def private_file(path: Path, *, exclusive: bool = False) -> None:
    """Create `path` empty with mode 0600 (its folder as `private_folder`); leave an existing file alone,
    or with `exclusive` raise FileExistsError for it."""
    private_folder(path.parent)
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        if exclusive:
            raise
        return
    os.close(descriptor)
    os.chmod(path, FILE_MODE)
