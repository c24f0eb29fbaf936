"""The TOML configuration file: keys mirror the variables, the environment wins, typos fail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from napomni.cli import cli
from napomni.config_file import FILE_VARIABLES, merged_environment, read_config_file
from napomni.settings import SettingsError, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "napomni.toml.example"


def test_the_file_becomes_settings(tmp_path: Path) -> None:
    config = tmp_path / "napomni.toml"
    config.write_text(
        'data_dir = "/srv/napomni"\n'
        "[database]\n"
        'url = "postgresql://napomni@127.0.0.1/napomni"\n'
        "[sip]\n"
        'registrar = "pbx.example.ru:5060"\n'
        'codecs = ["PCMU", "PCMA"]\n'
        "max_calls = 12\n"
        "[web]\n"
        "https = true\n",
        encoding="utf-8",
    )
    settings = load_settings(merged_environment({}, config), cwd=tmp_path)
    assert settings.data_dir == Path("/srv/napomni")
    assert settings.database_url == "postgresql://napomni@127.0.0.1/napomni"
    assert settings.sip.registrar == "pbx.example.ru:5060"
    assert settings.sip.codecs == ("PCMU", "PCMA")
    assert settings.sip.max_concurrent_calls == 12
    assert settings.web_https is True


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "napomni.toml"
    config.write_text("[sip]\nmax_calls = 12\nuser = 'from-file'\n", encoding="utf-8")
    env = {"NAPOMNI_CONFIG": str(config), "NAPOMNI_SIP_MAX_CALLS": "3", "NAPOMNI_SIP_USER": ""}
    settings = load_settings(merged_environment(env, None), cwd=tmp_path)
    assert settings.sip.max_concurrent_calls == 3
    assert settings.sip.user == "from-file", "an empty variable does not blank the file's value"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sip]\nregistar = 'x'\n", "ключ «[sip] registar»: неизвестный ключ"),
        ("[database]\nuri = 'x'\n", "ключ «[database] uri»: неизвестный ключ"),
        ("dta_dir = '/x'\n", "ключ «dta_dir»: неизвестный ключ"),
        ("[sip.extra]\nuser = 'x'\n", "ключ «[sip] extra»: неизвестный ключ"),
        ("[sip]\nmax_calls = 1.5\n", "ключ «[sip] max_calls»: ожидается строка, число"),
        ("[sip\n", "не TOML"),
    ],
)
def test_a_bad_file_fails_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "napomni.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=re.escape(message)):
        read_config_file(config)


def test_values_are_parsed_like_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "napomni.toml"
    config.write_text("[sip]\nmax_calls = 5000\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="NAPOMNI_SIP_MAX_CALLS=5000: допустимо от 1 до 1000"):
        load_settings(merged_environment({}, config), cwd=tmp_path)


def test_the_command_line_takes_config(tmp_path: Path) -> None:
    config = tmp_path / "napomni.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[sip]\nbogus = 1\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "db", "current"])
    assert result.exit_code == 2
    assert "«[sip] bogus»: неизвестный ключ" in result.stderr

    config.write_text(f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "db", "current"])
    assert result.exit_code == 0, result.output
    assert "Миграции не применялись" in result.stdout

    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "missing.toml"), "db", "current"])
    assert result.exit_code == 2
    assert "файла настроек нет" in result.stderr


def test_every_setting_can_be_in_the_file() -> None:
    source = (Path(__file__).resolve().parents[2] / "napomni" / "settings.py").read_text()
    read_by_settings = set(re.findall(r'"(NAPOMNI_[A-Z0-9_]+)"', source))
    assert read_by_settings - FILE_VARIABLES == set(), "add the new setting to FILE_VARIABLES"


def test_the_shipped_example_loads(tmp_path: Path) -> None:
    settings = load_settings(merged_environment({}, EXAMPLE), cwd=tmp_path)
    assert settings.sip.max_concurrent_calls == 8
