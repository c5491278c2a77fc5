"""The server's data directory: the task database, kept uploads and the signing secret."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

SECRET_FILE = "signing.key"
DATABASE_FILE = "tasks.sqlite3"
#: Folders of kept uploads (Undetectable presigned PUTs, Mippia music); expired by age.
UPLOAD_FOLDERS = ("uploads", "mippia")


def load_secret(data_dir: Path) -> bytes:
    """The HMAC key for presigned URLs: made once, kept so URLs issued before a restart stay valid."""
    path = data_dir / SECRET_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_bytes(32)
        # O_EXCL: if two servers start at once, one writes and the other reads the winner's key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(fd, "wb") as out:
            out.write(secret)
        return secret


def keep(upload: Path, target: Path) -> Path:
    """Move a received upload (a temporary file) to its place under the data directory."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(upload, target)  # a rename when both are on one file system
    return target


def remove_old_files(root: Path, older_than_s: float) -> int:
    """Delete files under ``root`` not modified for ``older_than_s``, then the directories they leave empty."""
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return removed
