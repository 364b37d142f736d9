"""`policybot backup DIR` and `policybot restore DIR`: the database, the data dir's files and
the index, as one directory an operator can check, move and restore on either engine.

What is kept, and why so (docs/operations.md, "Backup and restore"):
- the database as portable JSON lines per table, with its alembic revision (storage/dump.py:
  a consistent snapshot while the server runs; restorable on SQLite or PostgreSQL);
- the data dir's own files (uploaded notices, evidence photos; not the SQLite file, the embedded
  Chroma directory or the lock), each with its SHA-256;
- not the vector index: every chunk's text and its vector (EmbeddingCache) are in the database,
  so `restore` empties the vector store (embedded, or the Chroma server at CHROMA_URL) and
  writes it again from the restored rows — the same on every engine, and never a copy of a
  store that was being written to.
`manifest.json` is written last (a directory without it is no backup): the release, the
revision, rows per table, counts an operator recognises, the files and the time.

`restore` refuses a target that holds anything (rows, files, vectors) unless `force`, then loads
the rows into the backup's schema revision and migrates them to head. The workers must be
stopped meanwhile (an index built on their start would race the load).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from sqlalchemy.engine import make_url

from core.config import Settings
from storage import dump

FORMAT = 1
KIND = "policybot-backup"
MANIFEST = "manifest.json"
# what of the data dir is not copied: the database (dumped instead), the index (rebuilt), the lock
NOT_FILES = {"policybot.db", "policybot.db-wal", "policybot.db-shm", "chroma", ".ingest.lock"}
# the rows an operator checks a restore by (table → what the manifest calls it)
COUNTED = {"notice": "notices", "chunk": "chunks", "ticket": "tickets", "ticketevent": "ticket_events",
           "evidence": "evidence_photos", "follower": "followers", "staffuser": "staff_accounts",
           "taughtanswer": "taught_answers"}


class BackupError(RuntimeError):
    """A backup or restore that cannot go ahead; the message says why, in Chinese first."""


def _release() -> str:
    try:
        return metadata.version("policybot")
    except metadata.PackageNotFoundError:  # run from a checkout without `pip install -e .`
        return "unknown"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_files(data_dir: Path, skip: tuple[Path, ...] = ()) -> list[Path]:
    """The data dir's own files (uploads/, evidence/, …), relative to it, sorted."""
    if not data_dir.is_dir():
        return []
    skip = tuple(p.resolve() for p in skip)
    out = []
    for root, dirs, files in os.walk(data_dir):
        here = Path(root)
        dirs[:] = [d for d in dirs if not (here == data_dir and d in NOT_FILES)
                   and (here / d).resolve() not in skip and not d.endswith(".partial")]
        out += [(here / f).relative_to(data_dir) for f in files if not (here == data_dir and f in NOT_FILES)]
    return sorted(out)


def backup(settings: Settings, target: Path) -> dict:
    """Write the backup into `target` (missing or empty); returns the manifest."""
    target = target.resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"备份目录已存在且不是空的：{target}（请换一个新目录） (target exists)")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    # the database first, the files after: a file uploaded meanwhile is kept without its rows
    # (harmless), never rows without their file
    revision, tables = dump.dump(settings.db_url, partial / "db")
    data_dir = settings.data_dir.resolve()
    files = []
    for rel in data_files(data_dir, skip=(target, partial)):
        dest = partial / "files" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(data_dir / rel, dest)
        except FileNotFoundError:  # removed while we walked
            continue
        files.append({"path": rel.as_posix(), "bytes": dest.stat().st_size, "sha256": _sha256(dest)})
    manifest = {
        "kind": KIND, "format": FORMAT, "release": _release(), "created_at": created,
        "revision": revision, "database": make_url(settings.db_url).get_backend_name(),
        "data_dir": str(data_dir), "embedder": settings.embedder,
        "counts": {name: tables.get(table, 0) for table, name in COUNTED.items()} | {"files": len(files)},
        "tables": tables, "files": files,
        "index": "not copied: rebuilt on restore from the chunks and vectors in the database",
    }
    (partial / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if target.exists():
        target.rmdir()
    partial.rename(target)
    return manifest


def read_manifest(src: Path) -> dict:
    path = src / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"不是完整的备份（缺少或无法读取 {path}）：{exc}") from None
    if manifest.get("kind") != KIND or manifest.get("format") != FORMAT:
        raise BackupError(f"不认识的备份格式：{manifest.get('kind')} {manifest.get('format')}")
    for f in manifest["files"]:
        p = src / "files" / f["path"]
        if not p.is_file() or _sha256(p) != f["sha256"]:
            raise BackupError(f"备份中的文件缺失或已损坏：files/{f['path']} (checksum mismatch)")
    return manifest


def occupied(settings: Settings, kb) -> list[str]:
    """What the target already holds: tables with rows, files in the data dir, vectors."""
    tables = dump.nonempty_tables(settings.db_url)
    shown = "，".join(f"{t} {n} 行" for t, n in list(tables.items())[:4]) + ("…" if len(tables) > 4 else "")
    found = [f"数据库中 {len(tables)} 张表有数据（{shown}）"] if tables else []
    files = data_files(settings.data_dir)
    if files:
        found.append(f"数据目录中的 {len(files)} 个文件（如 {files[0].as_posix()}）")
    vectors = kb.vector_count()
    if vectors:
        found.append(f"向量库中的 {vectors} 条向量")
    return found


def restore(settings: Settings, src: Path, force: bool = False) -> dict:
    """Load the backup at `src` into the configured database, data dir and vector store; returns
    the counts restored. Refuses a target that holds anything unless `force` (then it is emptied)."""
    from knowledge.service import KnowledgeBase

    src = src.resolve()
    manifest = read_manifest(src)  # every file checked before anything is touched
    settings.ensure_dirs()
    kb = KnowledgeBase(settings)
    found = occupied(settings, kb)
    if found and not force:
        raise BackupError("恢复目标不是空的：" + "；".join(found) + "。确认要覆盖请加 --force (target not empty)")
    data_dir = settings.data_dir.resolve()
    dump.wipe(settings.db_url)  # also an empty schema of another revision: the load makes its own
    for rel in data_files(data_dir):
        (data_dir / rel).unlink()
    loaded = dump.load(settings.db_url, src / "db", manifest["revision"])
    wrong = {t: (n, loaded.get(t, 0)) for t, n in manifest["tables"].items() if loaded.get(t, 0) != n}
    if wrong:
        raise BackupError(f"恢复的行数与备份清单不符：{wrong}")
    for f in manifest["files"]:
        dest = data_dir / f["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / "files" / f["path"], dest)
    _move_paths(settings, manifest["data_dir"], str(data_dir))
    vectors = kb.rebuild_vectors()
    return {**manifest["counts"], "vectors": vectors}


def _move_paths(settings: Settings, old: str, new: str) -> None:
    """Uploaded files are recorded by their path under the old data dir; point them at the new."""
    from sqlmodel import select

    from storage.db import session_scope
    from storage.models import SourceFile

    if old == new:
        return
    with session_scope(settings.db_url) as session:
        for row in session.exec(select(SourceFile).where(SourceFile.path.startswith(old + os.sep))).all():
            row.path = new + row.path[len(old):]
            session.add(row)
