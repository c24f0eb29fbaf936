"""``napomni backup`` / ``restore`` as an administrator runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import tarfile
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from napomni.cli import cli
from storage.database import make_engine, make_session_factory, upgrade_to_heads
from storage.models import Organisation
from tests.conftest import POSTGRES_ENV, POSTGRES_SKIP_REASON


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def _row_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = sa.inspect(connection).get_table_names()
            return {
                table: connection.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()
                for table in tables
            }
    finally:
        engine.dispose()


def _fill(base: list[str], tmp_path: Path, organisation: str) -> None:
    debts = tmp_path / "debts.csv"
    code, out = _run([*base, "sample", "debts", "--accounts", "5", "--out", str(debts)])
    assert code == 0, out
    code, out = _run([*base, "import", "debts", str(debts), "--org", organisation])
    assert code == 0, out


def _recordings(data_dir: Path) -> dict[str, bytes]:
    root = data_dir / "recordings"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _write_recordings(data_dir: Path) -> None:
    (data_dir / "recordings" / "2026-12").mkdir(parents=True)
    (data_dir / "recordings" / "2026-12" / "call-1.wav").write_bytes(os.urandom(5000))
    (data_dir / "recordings" / "call-2.wav").write_bytes(b"RIFF" + bytes(100))


@pytest.fixture
def sqlite_install(tmp_path: Path) -> tuple[list[str], Path]:
    data_dir = tmp_path / "data"
    base = ["--data-dir", str(data_dir)]
    code, out = _run([*base, "db", "upgrade"])
    assert code == 0, out
    _fill(base, tmp_path, "УК Резерв")
    _write_recordings(data_dir)
    return base, data_dir


def test_sqlite_round_trip(sqlite_install: tuple[list[str], Path], tmp_path: Path) -> None:
    base, data_dir = sqlite_install
    archive = tmp_path / "out" / "copy.tar.gz"
    code, out = _run([*base, "backup", "--output", str(archive)])
    assert code == 0, out
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[-1] == "manifest.json"
    assert {"database.sqlite", "recordings/call-2.wav", "recordings/2026-12/call-1.wav"} <= set(
        names
    )

    url = f"sqlite:///{data_dir / 'napomni.db'}"
    before, recordings = _row_counts(url), _recordings(data_dir)
    assert before["accounts"] == 5

    restored = tmp_path / "restored"
    code, out = _run(["--data-dir", str(restored), "restore", str(archive)])
    assert code == 0, out
    assert _row_counts(f"sqlite:///{restored / 'napomni.db'}") == before
    assert _recordings(restored) == recordings
    assert not list(restored.glob(".restore-*")), "the staging directory is removed"


def test_sqlite_backup_while_another_connection_writes(
    sqlite_install: tuple[list[str], Path], tmp_path: Path
) -> None:
    base, data_dir = sqlite_install
    url = f"sqlite:///{data_dir / 'napomni.db'}"
    engine = make_engine(url)
    factory = make_session_factory(engine)
    stop, written = threading.Event(), [0]

    def write() -> None:
        while not stop.is_set():
            with factory.begin() as session:
                session.add(Organisation(name=f"writer-{uuid.uuid4().hex}"))
            written[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while written[0] < 20:  # the writer is under way before the copy starts
            stop.wait(0.01)
        archive = tmp_path / "live.tar.gz"
        code, out = _run([*base, "backup", "--output", str(archive)])
        assert code == 0, out
        during = written[0]
    finally:
        stop.set()
        writer.join(timeout=30)
        engine.dispose()
    assert not writer.is_alive()

    restored = tmp_path / "restored"
    code, out = _run(["--data-dir", str(restored), "restore", str(archive)])
    assert code == 0, out
    counts = _row_counts(f"sqlite:///{restored / 'napomni.db'}")
    # A snapshot taken between the writer's commits: every organisation whole, none torn.
    assert 1 + 20 <= counts["organisations"] <= 1 + during + 1


def test_corrupt_archive_is_refused(sqlite_install: tuple[list[str], Path], tmp_path: Path) -> None:
    base, _ = sqlite_install
    archive = tmp_path / "copy.tar.gz"
    assert _run([*base, "backup", "--output", str(archive)])[0] == 0

    # A recording changed inside an otherwise well-formed archive: the checksum catches it.
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(tampered, "w:gz") as out_tar:
        for member in source:
            data = source.extractfile(member)
            assert data is not None
            body = data.read()
            if member.name == "recordings/call-2.wav":
                body = b"XXXX" + body[4:]
            out_tar.addfile(member, io.BytesIO(body))
    target = tmp_path / "target"
    code, out = _run(["--data-dir", str(target), "restore", str(tampered)])
    assert code != 0
    assert "контрольная сумма 'recordings/call-2.wav' не совпадает" in out
    assert not (target / "napomni.db").exists(), "nothing written"

    # A truncated file: gzip cannot read it.
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    code, out = _run(["--data-dir", str(target), "restore", str(cut)])
    assert code != 0
    assert "архив повреждён или не читается" in out

    # Not ours at all.
    other = tmp_path / "other.tar.gz"
    with gzip.open(other, "wb") as handle:
        handle.write(b"")
    code, out = _run(["--data-dir", str(target), "restore", str(other)])
    assert code != 0
    assert "не архив napomni backup" in out or "не читается" in out
    assert not (target / "napomni.db").exists()


def test_restore_over_data_needs_force(
    sqlite_install: tuple[list[str], Path], tmp_path: Path
) -> None:
    base, data_dir = sqlite_install
    archive = tmp_path / "copy.tar.gz"
    assert _run([*base, "backup", "--output", str(archive)])[0] == 0
    url = f"sqlite:///{data_dir / 'napomni.db'}"
    before = _row_counts(url)
    _fill(base, tmp_path, "УК После копии")  # changes after the backup
    (data_dir / "recordings" / "call-3.wav").write_bytes(b"later")
    changed = _row_counts(url)
    assert changed != before

    code, out = _run([*base, "restore", str(archive)])
    assert code != 0
    assert "уже есть данные" in out
    assert "--force" in out
    assert _row_counts(url) == changed, "nothing replaced without --force"

    code, out = _run([*base, "restore", str(archive), "--force"])
    assert code == 0, out
    assert _row_counts(url) == before
    assert "call-3.wav" not in _recordings(data_dir)


def test_backup_keeps_the_newest(sqlite_install: tuple[list[str], Path]) -> None:
    base, data_dir = sqlite_install
    backups = data_dir / "backups"
    backups.mkdir()
    for day in ("20261201", "20261202", "20261203"):
        (backups / f"napomni-{day}T023000Z.tar.gz").write_bytes(b"old")
    code, out = _run([*base, "backup", "--keep", "2"])
    assert code == 0, out
    left = sorted(p.name for p in backups.iterdir())
    assert len(left) == 2
    assert left[0] == "napomni-20261203T023000Z.tar.gz"


@pytest.mark.postgres
def test_postgresql_round_trip(tmp_path: Path) -> None:
    admin_url = os.environ.get(POSTGRES_ENV, "").strip()
    if not admin_url:
        pytest.skip(POSTGRES_SKIP_REASON)
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump: Debian package postgresql-client not installed")
    admin = sa.create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    names = [f"napomni_backup_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    try:
        with admin.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        source, target = (
            make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            for name in names
        )
        upgrade_to_heads(source)
        data_dir = tmp_path / "data"
        base = ["--data-dir", str(data_dir), "--database-url", source]
        _fill(base, tmp_path, "УК Постгрес")
        _write_recordings(data_dir)
        archive = tmp_path / "pg.tar.gz"
        code, out = _run([*base, "backup", "--output", str(archive)])
        assert code == 0, out
        with tarfile.open(archive) as tar:
            assert "database.pgdump" in tar.getnames()

        restored = tmp_path / "restored"
        code, out = _run(
            ["--data-dir", str(restored), "--database-url", target, "restore", str(archive)]
        )
        assert code == 0, out
        assert _row_counts(target) == _row_counts(source)
        assert _row_counts(target)["accounts"] == 5
        assert _recordings(restored) == _recordings(data_dir)

        code, out = _run(
            ["--data-dir", str(restored), "--database-url", target, "restore", str(archive)]
        )
        assert code != 0
        assert "уже есть данные (база PostgreSQL" in out
        code, out = _run(
            [
                "--data-dir",
                str(restored),
                "--database-url",
                target,
                "restore",
                str(archive),
                "--force",
            ]
        )
        assert code == 0, out
        assert _row_counts(target) == _row_counts(source)
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_archive_of_a_newer_schema_is_refused(
    sqlite_install: tuple[list[str], Path], tmp_path: Path
) -> None:
    import json

    base, _ = sqlite_install
    archive = tmp_path / "copy.tar.gz"
    assert _run([*base, "backup", "--output", str(archive)])[0] == 0
    newer = tmp_path / "newer.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(newer, "w:gz") as out_tar:
        for member in source:
            data = source.extractfile(member)
            assert data is not None
            body = data.read()
            if member.name == "manifest.json":
                manifest = json.loads(body)
                manifest["alembic_revisions"].append("9999_from_the_future")
                body = json.dumps(manifest).encode()
                member.size = len(body)
            out_tar.addfile(member, io.BytesIO(body))
    code, out = _run(["--data-dir", str(tmp_path / "target"), "restore", str(newer)])
    assert code != 0
    assert "более новой версией" in out
    assert "9999_from_the_future" in out


def test_postgresql_password_travels_in_the_environment() -> None:
    from napomni.commands.backup import _target

    target = _target("postgresql://napomni:s3cret@db.example:5433/napomni?sslmode=require")
    assert dict(target.pg_env) == {
        "PGHOST": "db.example",
        "PGPORT": "5433",
        "PGUSER": "napomni",
        "PGDATABASE": "napomni",
        "PGPASSWORD": "s3cret",
        "PGSSLMODE": "require",
    }
