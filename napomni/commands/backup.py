"""``napomni backup`` / ``napomni restore``: the database and the recordings in one archive.

An archive is a tar.gz (mode 0600: it holds personal data) with ``manifest.json`` last:
format, versions, the database's Alembic revisions and a SHA-256 and size for every other
member. SQLite is copied online with the ``sqlite3`` backup API (WAL readers never block the
worker that writes meanwhile); PostgreSQL goes through ``pg_dump --format=custom`` and
``pg_restore``, with the connection in ``PG*`` variables so the password never appears on a
command line. Restore checks every member against the manifest before anything is replaced,
refuses a target that holds data unless forced, and swaps files in with atomic renames.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import click

from napomni.settings import Settings

__all__ = ["BackupError", "backup", "create_backup", "restore", "restore_backup"]

FORMAT = "napomni-backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite"
PG_MEMBER = "database.pgdump"
# The team's files under the data dir: call recordings and the company's own voice prompts.
ARCHIVED_DIRS = ("recordings", "prompts")
_CHUNK = 1 << 20
_PG_QUERY_KEYS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout")


class BackupError(click.ClickException):
    """A backup cannot be made or an archive cannot be restored; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where the database lives: a SQLite file or a PostgreSQL database."""

    backend: str
    sqlite_path: Path | None
    pg_env: Mapping[str, str]


def _target(database_url: str) -> Target:
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise BackupError("резервная копия SQLite возможна только для файла базы")
        return Target("sqlite", Path(url.database).expanduser().resolve(), {})
    if backend == "postgresql":
        env = {
            "PGDATABASE": url.database or "",
            "PGHOST": url.host or "",
            "PGUSER": url.username or "",
        }
        if url.port:
            env["PGPORT"] = str(url.port)
        if url.password:
            env["PGPASSWORD"] = str(url.password)  # the environment, never argv (ps shows argv)
        for key, value in url.query.items():
            if key in _PG_QUERY_KEYS and isinstance(value, str):
                env[f"PG{key.upper()}"] = value  # sslmode → PGSSLMODE, …
        return Target("postgresql", None, {k: v for k, v in env.items() if v})
    raise BackupError(f"база {backend!r}: поддерживаются SQLite и PostgreSQL")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _private_file(path: Path) -> IO[bytes]:
    return os.fdopen(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), "wb")


def _known_revisions() -> tuple[set[str], list[str]]:
    from alembic.script import ScriptDirectory

    from storage.database import migrations_config

    scripts = ScriptDirectory.from_config(migrations_config())
    return {r.revision for r in scripts.walk_revisions()}, sorted(scripts.get_heads())


def _copy_sqlite(source: Path, copy: Path) -> list[str]:
    """Copy a live SQLite database into one self-contained file; its Alembic revisions."""
    if not source.is_file():
        raise BackupError(f"файла базы нет: {source}")
    _private_file(copy).close()
    src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)  # page by page in one read transaction: a consistent snapshot
        dst.execute("PRAGMA journal_mode=DELETE")  # the copy is one file, no -wal beside it
        check = dst.execute("PRAGMA integrity_check").fetchone()
        if check is None or check[0] != "ok":
            raise BackupError(f"копия базы не прошла проверку целостности: {check}")
        return _sqlite_revisions(dst)
    finally:
        dst.close()
        src.close()


def _sqlite_revisions(connection: sqlite3.Connection) -> list[str]:
    try:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.OperationalError:
        return []
    return sorted(str(row[0]) for row in rows)


def _run_pg(command: list[str], env: Mapping[str, str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(
            f"нет программы {command[0]}: установите пакет postgresql-client (той же версии, что сервер, или новее)"
        )
    done = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(
            f"{command[0]} завершился с кодом {done.returncode}: {done.stderr.strip()}"
        )


def _conninfo_dbname(name: str) -> str:
    """A conninfo naming only the database; host, user and password come from PG* variables."""
    return "dbname='" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pg_revisions(database_url: str) -> list[str]:
    from storage.database import applied_revisions

    return applied_revisions(database_url)


def _tool_version(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        return ""
    done = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def create_backup(settings: Settings, output: Path) -> dict[str, object]:
    """Write an archive of the database and the recordings to ``output``; its manifest."""
    target = _target(settings.database_url)
    output = output.resolve()
    output.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if output.exists():
        raise BackupError(f"файл уже есть: {output}")
    files: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".backup-") as staging:
        work = Path(staging)
        if target.sqlite_path is not None:
            db_member, db_file = SQLITE_MEMBER, work / SQLITE_MEMBER
            revisions = _copy_sqlite(target.sqlite_path, db_file)
            engine_version = f"SQLite {sqlite3.sqlite_version}"
        else:
            db_member, db_file = PG_MEMBER, work / PG_MEMBER
            revisions = _pg_revisions(settings.database_url)
            _run_pg(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={db_file}",
                ],
                target.pg_env,
            )
            engine_version = _tool_version("pg_dump")
        partial = output.with_name(output.name + ".part")
        partial.unlink(missing_ok=True)
        try:
            with _private_file(partial) as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
                files[db_member] = _add(tar, db_file, db_member)
                for directory in ARCHIVED_DIRS:
                    root = settings.data_dir / directory
                    for path in _walk(root) if root.is_dir() else ():
                        name = f"{directory}/{path.relative_to(root).as_posix()}"
                        files[name] = _add(tar, path, name)
                manifest = _manifest(target.backend, engine_version, revisions, files)
                body = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode, info.mtime = (
                    len(body),
                    0o600,
                    int(datetime.now(UTC).timestamp()),
                )
                tar.addfile(info, io.BytesIO(body))
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(partial, output)
        finally:
            partial.unlink(missing_ok=True)
    return manifest


def _add(tar: tarfile.TarFile, path: Path, name: str) -> dict[str, object]:
    digest = _sha256_file(path)
    info = tar.gettarinfo(str(path), arcname=name)
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    with path.open("rb") as handle:
        tar.addfile(info, handle)
    return {"sha256": digest, "size": info.size}


def _manifest(
    backend: str, engine_version: str, revisions: list[str], files: dict[str, dict[str, object]]
) -> dict[str, object]:
    from importlib.metadata import version

    _, heads = _known_revisions()
    return {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "napomni": version("napomni"),
        "python": platform.python_version(),
        "backend": backend,
        "database_engine": engine_version,
        "alembic_revisions": revisions,
        "alembic_heads_of_code": heads,
        "files": files,
    }


def _prune(directory: Path, keep: int) -> list[Path]:
    archives = sorted(directory.glob("napomni-*.tar.gz"))
    removed = archives[:-keep] if keep and len(archives) > keep else []
    for old in removed:
        old.unlink()
    return removed


def _unpack(archive: Path, staging: Path) -> dict[str, object]:
    """Extract into ``staging`` checking every member; the manifest, or BackupError."""
    seen: dict[str, tuple[str, int]] = {}
    manifest: dict[str, object] | None = None
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                name = member.name
                if not member.isfile() or name.startswith("/") or ".." in Path(name).parts:
                    raise BackupError(f"архив повреждён или чужой: недопустимый элемент {name!r}")
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - regular files always have data
                    raise BackupError(f"архив повреждён: {name!r} без данных")
                if name == MANIFEST:
                    manifest = json.loads(handle.read(16 << 20))
                    continue
                dest = staging / name
                dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                digest, size = hashlib.sha256(), 0
                with _private_file(dest) as out:
                    while chunk := handle.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                seen[name] = (digest.hexdigest(), size)
    except (tarfile.TarError, OSError, EOFError, json.JSONDecodeError) as err:
        raise BackupError(f"архив повреждён или не читается: {archive} ({err})") from err
    if manifest is None or manifest.get("format") != FORMAT:
        raise BackupError(f"{archive}: не архив napomni backup (нет {MANIFEST} формата {FORMAT})")
    _verify(manifest, seen)
    return manifest


def _verify(manifest: Mapping[str, object], seen: Mapping[str, tuple[str, int]]) -> None:
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise BackupError("архив повреждён: в манифесте нет списка файлов")
    for name, (digest, size) in seen.items():
        entry = listed.get(name)
        if not isinstance(entry, dict):
            raise BackupError(f"архив повреждён: {name!r} нет в манифесте")
        if entry.get("sha256") != digest or entry.get("size") != size:
            raise BackupError(f"архив повреждён: контрольная сумма {name!r} не совпадает")
    missing = sorted(set(listed) - set(seen))
    if missing:
        raise BackupError(f"архив неполный: нет {', '.join(missing[:5])}")
    known, _ = _known_revisions()
    revisions = manifest.get("alembic_revisions")
    unknown = [r for r in revisions if r not in known] if isinstance(revisions, list) else []
    if unknown:
        raise BackupError(
            f"архив сделан более новой версией Напомни (ревизии схемы {', '.join(unknown)} "
            f"этой версии неизвестны, архив {manifest.get('napomni')}): установите её и повторите"
        )


def _sqlite_has_data(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        row = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name != 'alembic_version'"
        ).fetchone()
        return bool(row and row[0])
    finally:
        connection.close()


def _pg_has_data(database_url: str) -> bool:
    from sqlalchemy import text

    from storage.database import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            count = connection.execute(
                text(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
                    " AND table_name != 'alembic_version'"
                )
            ).scalar_one()
        return bool(count)
    finally:
        engine.dispose()


def restore_backup(settings: Settings, archive: Path, *, force: bool) -> dict[str, object]:
    """Replace the database and recordings by the archive's; its manifest."""
    target = _target(settings.database_url)
    data_dir = settings.data_dir
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".restore-") as staging_name:
        staging = Path(staging_name)
        manifest = _unpack(archive, staging)  # everything checked before anything is touched
        backend = manifest.get("backend")
        if backend != target.backend:
            raise BackupError(
                f"архив базы {backend}, а настроена база {target.backend}: "
                "восстановление между ними не поддерживается"
            )
        occupied = [d for d in ARCHIVED_DIRS if any((data_dir / d).glob("*"))]
        if target.sqlite_path is not None and _sqlite_has_data(target.sqlite_path):
            occupied.insert(0, str(target.sqlite_path))
        if target.backend == "postgresql" and _pg_has_data(settings.database_url):
            occupied.insert(0, "база PostgreSQL")
        if occupied and not force:
            raise BackupError(
                f"в месте восстановления уже есть данные ({', '.join(occupied)}): "
                "остановите службы и повторите с --force, чтобы заменить их"
            )
        if target.sqlite_path is not None:
            _swap_sqlite(staging / SQLITE_MEMBER, target.sqlite_path)
        else:
            _run_pg(
                [
                    "pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges",
                    "--single-transaction", "--exit-on-error",
                    f"--dbname={_conninfo_dbname(target.pg_env.get('PGDATABASE', ''))}",
                    str(staging / PG_MEMBER),
                ],
                {**target.pg_env, "PGOPTIONS": "-c client_min_messages=warning"},
            )  # fmt: skip
        for directory in ARCHIVED_DIRS:
            _swap_dir(staging / directory, data_dir / directory, staging)
    return manifest


def _swap_sqlite(new: Path, path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    moved = path.with_name(f".{path.name}.restore")
    shutil.move(new, moved)  # same filesystem as the target: the final step is a rename
    _fsync(moved)
    if path.exists():
        # Fold the old WAL into its file first: a -wal left beside the new file would be
        # replayed into it.
        try:
            old = sqlite3.connect(path, timeout=30)
            try:
                old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                old.close()
        except sqlite3.Error as err:
            moved.unlink(missing_ok=True)
            raise BackupError(
                f"база {path} занята ({err}): остановите службы napomni и повторите"
            ) from err
    os.replace(moved, path)
    for side in ("-wal", "-shm"):
        path.with_name(path.name + side).unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_dir(new: Path, path: Path, staging: Path) -> None:
    if not new.is_dir():
        new.mkdir(mode=0o700)
    aside = staging / f"old-{path.name}"
    if path.exists():
        os.replace(path, aside)  # removed with the staging directory
    try:
        os.replace(new, path)
    except OSError:
        if aside.exists():
            os.replace(aside, path)  # the old files back rather than none
        raise


def _default_output(settings: Settings) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return settings.data_dir / "backups" / f"napomni-{stamp}.tar.gz"


@click.command(
    help=(
        "Резервная копия: база (SQLite — на ходу, PostgreSQL — pg_dump) и записи разговоров "
        "в один архив tar.gz (права 0600) с манифестом и контрольными суммами."
    )
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Файл архива (по умолчанию <каталог данных>/backups/napomni-ДАТА.tar.gz).",
)
@click.option(
    "--keep",
    type=click.IntRange(0, 10000),
    default=0,
    show_default=True,
    help="Оставить столько последних архивов в каталоге (0 — не удалять старые).",
)
@click.pass_obj
def backup(settings: Settings, output: Path | None, keep: int) -> None:
    path = output or _default_output(settings)
    manifest = create_backup(settings, path)
    files = manifest["files"]
    count = len(files) - 1 if isinstance(files, dict) else 0
    click.echo(f"Архив: {path} (база {manifest['backend']}, файлов записей: {count})")
    for old in _prune(path.parent, keep):
        click.echo(f"Удалён старый архив: {old}")


@click.command(
    help=(
        "Восстановить базу и записи из архива napomni backup. Архив проверяется целиком до "
        "замены; непустое место восстановления заменяется только с --force. Остановите службы."
    )
)
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Заменить существующие базу и записи.")
@click.pass_obj
def restore(settings: Settings, archive: Path, force: bool) -> None:
    manifest = restore_backup(settings, archive, force=force)
    click.echo(
        f"Восстановлено из {archive} (сделан {manifest.get('created_at')}, "
        f"Напомни {manifest.get('napomni')}). Затем: napomni db upgrade"
    )
