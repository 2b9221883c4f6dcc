"""The portal's state: SQLite for tokens, deposits, records, buckets and objects; file contents as
blobs on disk.

A blob is written under tmp/ and renamed into objects/ only once the whole body has arrived, so a
dropped upload never leaves a half file that the database points at. A published record's bucket
is a locked snapshot whose rows point at the same blobs as the draft's; a blob is deleted when no
row refers to it any more.

All methods are plain synchronous calls: SQLite answers in microseconds, so the server calls them
straight from its event loop. Another process (the `serve token` command) may open the same
database at the same time: WAL mode and a busy timeout make that safe.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import string
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, email TEXT NOT NULL, created TEXT NOT NULL, expires REAL);
CREATE TABLE IF NOT EXISTS deposits (
  pid TEXT PRIMARY KEY, owner TEXT NOT NULL, schema TEXT NOT NULL, metadata TEXT NOT NULL,
  status TEXT NOT NULL, recid TEXT, bucket TEXT NOT NULL, revision INTEGER NOT NULL,
  created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS access (
  pid TEXT NOT NULL, email TEXT NOT NULL, kind TEXT NOT NULL, action TEXT NOT NULL,
  PRIMARY KEY (pid, email, kind, action));
CREATE TABLE IF NOT EXISTS records (
  recid TEXT PRIMARY KEY, pid TEXT NOT NULL, bucket TEXT NOT NULL, metadata TEXT NOT NULL,
  created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (id TEXT PRIMARY KEY, pid TEXT NOT NULL, recid TEXT, locked INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
  bucket TEXT NOT NULL, key TEXT NOT NULL, version_id TEXT NOT NULL, size INTEGER NOT NULL,
  checksum TEXT NOT NULL, blob TEXT NOT NULL, tags TEXT NOT NULL, created TEXT NOT NULL,
  PRIMARY KEY (bucket, key));
"""

ACTIONS = ("deposit-read", "deposit-update", "deposit-admin")


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def hash_token(token: str) -> str:
    # only a digest is stored: a copied database gives nobody a working token
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Deposit:
    pid: str
    owner: str
    schema: str
    metadata: dict
    status: str
    recid: str | None
    bucket: str
    revision: int
    created: str
    updated: str


@dataclass
class Record:
    recid: str
    pid: str
    bucket: str
    metadata: dict
    created: str


@dataclass
class Bucket:
    id: str
    pid: str
    recid: str | None
    locked: bool


@dataclass
class Obj:
    bucket: str
    key: str
    version_id: str
    size: int
    checksum: str
    blob: str
    tags: dict
    created: str


class Storage:
    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(exist_ok=True)
        self.db = sqlite3.connect(self.root / "portal.sqlite3", isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)
        self._add_token_expiry()

    def _add_token_expiry(self) -> None:
        """Data folders made before tokens could expire get the column (NULL: never expires)."""
        if "expires" not in {row["name"] for row in self.db.execute("PRAGMA table_info(tokens)")}:
            try:
                self.db.execute("ALTER TABLE tokens ADD COLUMN expires REAL")
            except sqlite3.OperationalError:  # `serve token` in another process added it meanwhile
                pass

    def close(self) -> None:
        self.db.close()

    def drop_crash_leftovers(self) -> int:
        """Remove what a crash (SIGKILL, power cut) left behind: uploads cut short in tmp/, and blobs
        no row refers to (the server died between moving a complete upload into objects/ and
        recording it, or between forgetting an object and deleting its blob). Only the server writes
        there, so this runs when it starts, before it accepts a request."""
        stale = list((self.root / "tmp").glob("*.part"))
        used = {row["blob"] for row in self.db.execute("SELECT DISTINCT blob FROM objects")}
        stale += [p for p in (self.root / "objects").glob("*/*") if p.name not in used]
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)

    # tokens ------------------------------------------------------------------------------------
    def issue_token(self, email: str, expires_in: float | None = None) -> tuple[str, float | None]:
        """A new token for `email` and when it expires (seconds since the epoch; None: never)."""
        token = secrets.token_urlsafe(32)
        expires = time.time() + expires_in if expires_in is not None else None
        self.db.execute("INSERT INTO tokens VALUES (?, ?, ?, ?)", (hash_token(token), email, now(), expires))
        return token, expires

    def user_for_token(self, token: str) -> tuple[str | None, bool]:
        """The token's user, or None; and whether the token was real but has expired."""
        row = self.db.execute("SELECT email, expires FROM tokens WHERE hash = ?", (hash_token(token),)).fetchone()
        if row is None:
            return None, False
        if row["expires"] is not None and row["expires"] <= time.time():
            return None, True
        return row["email"], False

    def users(self) -> set[str]:
        return {row["email"] for row in self.db.execute("SELECT DISTINCT email FROM tokens")}

    # deposits ----------------------------------------------------------------------------------
    def create_deposit(self, owner: str, schema: str, metadata: dict) -> Deposit:
        pid, bucket, stamp = uuid.uuid4().hex, str(uuid.uuid4()), now()
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT INTO buckets VALUES (?, ?, NULL, 0)", (bucket, pid))
            self.db.execute(
                "INSERT INTO deposits VALUES (?, ?, ?, ?, 'draft', NULL, ?, 0, ?, ?)",
                (pid, owner, schema, json.dumps(metadata), bucket, stamp, stamp),
            )
        return self.deposit(pid)

    def deposit(self, pid: str) -> Deposit | None:
        row = self.db.execute("SELECT * FROM deposits WHERE pid = ?", (pid,)).fetchone()
        if row is None:
            return None
        return Deposit(**{**dict(row), "metadata": json.loads(row["metadata"])})

    def deposits_readable_by(self, email: str, only_own: bool) -> list[Deposit]:
        if only_own:
            rows = self.db.execute("SELECT pid FROM deposits WHERE owner = ? ORDER BY created DESC", (email,))
        else:
            rows = self.db.execute(
                "SELECT pid FROM deposits WHERE owner = ? OR pid IN (SELECT pid FROM access WHERE email = ?)"
                " ORDER BY created DESC",
                (email, email),
            )
        return [self.deposit(row["pid"]) for row in rows.fetchall()]

    def update_metadata(self, pid: str, metadata: dict) -> None:
        self.db.execute(
            "UPDATE deposits SET metadata = ?, revision = revision + 1, updated = ? WHERE pid = ?",
            (json.dumps(metadata), now(), pid),
        )

    def delete_deposit(self, pid: str) -> None:
        deposit = self.deposit(pid)
        blobs = [o.blob for o in self.objects(deposit.bucket)]
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM objects WHERE bucket = ?", (deposit.bucket,))
            self.db.execute("DELETE FROM buckets WHERE id = ?", (deposit.bucket,))
            self.db.execute("DELETE FROM access WHERE pid = ?", (pid,))
            self.db.execute("DELETE FROM deposits WHERE pid = ?", (pid,))
        for blob in blobs:
            self._drop_blob_if_unused(blob)

    def publish(self, pid: str) -> str:
        """Lock the draft's bucket, snapshot it into the record's own locked bucket, mint a recid."""
        deposit = self.deposit(pid)
        recid = "CAP.RECAST." + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(4))
        recid += "." + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(4))
        snapshot, stamp = str(uuid.uuid4()), now()
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("UPDATE buckets SET locked = 1 WHERE id = ?", (deposit.bucket,))
            self.db.execute("INSERT INTO buckets VALUES (?, ?, ?, 1)", (snapshot, pid, recid))
            self.db.execute(
                "INSERT INTO objects SELECT ?, key, version_id, size, checksum, blob, tags, created"
                " FROM objects WHERE bucket = ?",
                (snapshot, deposit.bucket),
            )
            self.db.execute(
                "INSERT INTO records VALUES (?, ?, ?, ?, ?)", (recid, pid, snapshot, json.dumps(deposit.metadata), stamp)
            )
            self.db.execute(
                "UPDATE deposits SET status = 'published', recid = ?, revision = revision + 1, updated = ?"
                " WHERE pid = ?",
                (recid, stamp, pid),
            )
        return recid

    # access ------------------------------------------------------------------------------------
    def grants(self, pid: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM access WHERE pid = ? ORDER BY email", (pid,)).fetchall()

    def grant(self, pid: str, email: str, kind: str, action: str) -> bool:
        """Add a grant; False when it already exists."""
        cursor = self.db.execute("INSERT OR IGNORE INTO access VALUES (?, ?, ?, ?)", (pid, email, kind, action))
        return cursor.rowcount == 1

    def revoke(self, pid: str, email: str, kind: str, action: str) -> bool:
        cursor = self.db.execute(
            "DELETE FROM access WHERE pid = ? AND email = ? AND kind = ? AND action = ?", (pid, email, kind, action)
        )
        return cursor.rowcount == 1

    def can(self, email: str, deposit: Deposit, action: str) -> bool:
        """The owner may do anything; others what they were granted (a wider right implies the narrower)."""
        if email == deposit.owner:
            return True
        wider = ACTIONS[ACTIONS.index(action):]
        marks = ",".join("?" * len(wider))
        row = self.db.execute(
            f"SELECT 1 FROM access WHERE pid = ? AND email = ? AND action IN ({marks})", (deposit.pid, email, *wider)
        ).fetchone()
        return row is not None

    # records -----------------------------------------------------------------------------------
    def record(self, recid: str) -> Record | None:
        row = self.db.execute("SELECT * FROM records WHERE recid = ?", (recid,)).fetchone()
        return Record(**{**dict(row), "metadata": json.loads(row["metadata"])}) if row else None

    def records(self, owner: str | None) -> list[Record]:
        if owner is None:
            rows = self.db.execute("SELECT recid FROM records ORDER BY created DESC")
        else:
            rows = self.db.execute(
                "SELECT recid FROM records WHERE pid IN (SELECT pid FROM deposits WHERE owner = ?) ORDER BY created DESC",
                (owner,),
            )
        return [self.record(row["recid"]) for row in rows.fetchall()]

    # buckets and objects -----------------------------------------------------------------------
    def bucket(self, bucket_id: str) -> Bucket | None:
        row = self.db.execute("SELECT * FROM buckets WHERE id = ?", (bucket_id,)).fetchone()
        return Bucket(row["id"], row["pid"], row["recid"], bool(row["locked"])) if row else None

    def objects(self, bucket_id: str) -> list[Obj]:
        rows = self.db.execute("SELECT * FROM objects WHERE bucket = ? ORDER BY key", (bucket_id,))
        return [self._obj(row) for row in rows.fetchall()]

    def object(self, bucket_id: str, key: str) -> Obj | None:
        row = self.db.execute("SELECT * FROM objects WHERE bucket = ? AND key = ?", (bucket_id, key)).fetchone()
        return self._obj(row) if row else None

    def blob_path(self, blob: str) -> Path:
        return self.root / "objects" / blob[:2] / blob

    def new_upload(self) -> tuple[str, Path]:
        """A fresh blob name and the temporary file its body is written to."""
        blob = uuid.uuid4().hex
        return blob, self.root / "tmp" / f"{blob}.part"

    def commit_upload(self, bucket_id: str, key: str, blob: str, part: Path, size: int, md5: str, tags: dict) -> Obj | None:
        """Move a complete upload into place and make it the key's object (replacing any older one).
        None (and the upload dropped) when the bucket was locked or deleted while the body arrived:
        a publish or delete must not be followed by a file it did not see. (Every storage call runs
        on the server's event loop, so nothing happens between this check and the insert.)"""
        bucket = self.bucket(bucket_id)
        if bucket is None or bucket.locked:
            part.unlink(missing_ok=True)
            return None
        target = self.blob_path(blob)
        target.parent.mkdir(exist_ok=True)
        os.replace(part, target)
        old = self.object(bucket_id, key)
        self.db.execute(
            "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (bucket_id, key, str(uuid.uuid4()), size, f"md5:{md5}", blob, json.dumps(tags), now()),
        )
        if old is not None:
            self._drop_blob_if_unused(old.blob)
        return self.object(bucket_id, key)

    def delete_object(self, bucket_id: str, key: str) -> None:
        old = self.object(bucket_id, key)
        self.db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket_id, key))
        self._drop_blob_if_unused(old.blob)

    def _drop_blob_if_unused(self, blob: str) -> None:
        if self.db.execute("SELECT 1 FROM objects WHERE blob = ?", (blob,)).fetchone() is None:
            self.blob_path(blob).unlink(missing_ok=True)

    @staticmethod
    def _obj(row: sqlite3.Row) -> Obj:
        return Obj(**{**dict(row), "tags": json.loads(row["tags"])})
