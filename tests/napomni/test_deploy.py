"""``napomni deploy units``, the shipped units, the Dockerfile and the compose file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from napomni.cli import cli
from napomni.units import UnitOptions, render_units

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NAPOMNI = Path(sys.executable).parent / "napomni"


def _write_units(tmp_path: Path, *extra: str) -> tuple[Path, str]:
    prefix = tmp_path / "units"
    args = ["deploy", "units", "--prefix", str(prefix), "--napomni", str(NAPOMNI)]
    result = CliRunner().invoke(
        cli, [*args, "--data-dir", str(tmp_path / "data"), *extra], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return prefix, result.stdout


def test_units_are_written_for_the_install(tmp_path: Path) -> None:
    prefix, out = _write_units(tmp_path, "--user", "collector", "--config", "/etc/napomni/n.toml")
    names = sorted(p.name for p in prefix.iterdir())
    assert names == sorted(render_units(UnitOptions()))
    web = (prefix / "napomni-web.service").read_text()
    assert f"ExecStart={NAPOMNI} serve --host 127.0.0.1 --port 8080" in web
    assert f"ReadWritePaths={tmp_path / 'data'}" in web
    assert "User=collector\nGroup=collector\n" in web
    assert "Environment=NAPOMNI_CONFIG=/etc/napomni/n.toml" in web
    for option in ("ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes"):
        assert option in web
    assert "EnvironmentFile=/etc/napomni/napomni.env" in web
    assert (prefix / "napomni-web.service").stat().st_mode & 0o777 == 0o644
    assert "systemctl enable --now" in out
    assert "napomni-backup.timer" in out
    timer = (prefix / "napomni-decide-promises.timer").read_text()
    assert "Unit=napomni-decide-promises.service" in timer
    assert "Persistent=true" in timer
    assert "campaign decide-promises" in (prefix / "napomni-decide-promises.service").read_text()
    assert "backup --keep 14" in (prefix / "napomni-backup.service").read_text()


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    prefix, out = _write_units(tmp_path, "--dry-run")
    assert not prefix.exists()
    assert "[Service]" in out
    assert "napomni-worker.service" in out


@pytest.mark.parametrize(
    ("option", "value"),
    [("--data-dir", "/var/lib/na pomni"), ("--user", "Root;x"), ("--backup-at", "daily\nX=1")],
)
def test_values_that_would_break_a_unit_are_refused(
    tmp_path: Path, option: str, value: str
) -> None:
    result = CliRunner().invoke(
        cli, ["deploy", "units", "--prefix", str(tmp_path), "--dry-run", option, value]
    )
    assert result.exit_code == 2
    assert option in result.stderr


def test_shipped_units_match_the_templates() -> None:
    for name, text in render_units(UnitOptions()).items():
        assert (DEPLOY / "systemd" / name).read_text(encoding="utf-8") == text, name


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze not installed (Debian package systemd)",
)
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    prefix, _ = _write_units(tmp_path)
    units = sorted(str(p) for p in prefix.iterdir())
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=prefix,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    # Unknown or misspelt keys are only warnings for systemd: none may appear.
    assert "Unknown" not in report, report
    assert "ignoring" not in report, report


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_wires_services_volumes_and_environment() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"web", "worker", "sender", "db", "migrate"} <= set(services)
    commands = {name: services[name]["command"][:2] for name in ("web", "worker", "sender")}
    assert commands == {
        "web": ["serve", "--host"],
        "worker": ["worker", "--stop-grace"],
        "sender": ["messages", "send"],
    }
    for name in ("web", "worker", "sender", "migrate"):
        service = services[name]
        env = service["environment"]
        assert env["NAPOMNI_DATA_DIR"] == "/var/lib/napomni"
        assert env["NAPOMNI_DATABASE_URL"].startswith("postgresql://napomni:${POSTGRES_PASSWORD")
        assert env["NAPOMNI_DATABASE_URL"].endswith("@db:5432/napomni")
        assert "data:/var/lib/napomni" in service["volumes"]
        assert service["build"]["context"] == ".."
    for name in ("web", "worker", "sender"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert "--no-migrate" in services["web"]["command"]
    assert services["web"]["ports"] == ["127.0.0.1:8080:8080"]
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert services["db"]["environment"]["POSTGRES_DB"] == "napomni"
    assert {"data", "pgdata"} <= set(compose["volumes"])
    assert (ROOT / services["web"]["build"]["dockerfile"]).is_file()


def _has_compose() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _has_compose(), reason="docker compose not available here")
def test_docker_compose_accepts_the_file() -> None:
    done = subprocess.run(
        ["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "POSTGRES_PASSWORD": "test-only"},
    )
    assert done.returncode == 0, done.stderr


def test_dockerfile_runs_as_its_own_user() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert text.startswith("# ")
    assert "FROM python:3.11-slim-bookworm" in text
    assert "\nUSER napomni\n" in text
    assert "postgresql-client" in text
    assert "festvox-ru" in text


# The Compose Specification's own JSON schema (compose-spec/compose-spec, schema/
# compose-spec.json at 170098b, Apache-2.0): what `docker compose config` checks a file
# against, so the file is validated here too, where Docker's compose plugin is not installed.
COMPOSE_SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"


def test_compose_file_is_valid_by_the_compose_specification() -> None:
    import jsonschema

    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(_compose())]
    assert problems == []
    # The schema does refuse a broken file: an unknown key and a wrong type in a service.
    broken = _compose()
    broken["services"]["web"]["restart_policy"] = "always"
    broken["services"]["worker"]["ports"] = "8080"
    assert len(list(validator.iter_errors(broken))) == 2
