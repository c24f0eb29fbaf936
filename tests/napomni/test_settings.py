from pathlib import Path

import pytest

from napomni.settings import SettingsError, load_settings


def test_defaults_put_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({}, cwd=tmp_path)
    assert settings.data_dir == tmp_path / "var"
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'napomni.db'}"
    assert settings.sip.adapter == "baresip"


def test_flags_and_environment_are_parsed_explicitly(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "NAPOMNI_DATA_DIR": "data",
            "NAPOMNI_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
            "NAPOMNI_SIP_CODECS": "pcmu, pcma",
            "NAPOMNI_SIP_MAX_CALLS": "20",
        },
        cwd=tmp_path,
    )
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url.startswith("postgresql://")
    assert settings.sip.codecs == ("PCMU", "PCMA")
    assert settings.sip.max_concurrent_calls == 20


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NAPOMNI_SIP_MAX_CALLS": "many"}, "NAPOMNI_SIP_MAX_CALLS='many': ожидается целое число"),
        (
            {"NAPOMNI_SIP_CODECS": "G729"},
            "NAPOMNI_SIP_CODECS='G729': кодеки через запятую из PCMA, PCMU",
        ),
        ({"NAPOMNI_DATABASE_URL": "napomni.db"}, "NAPOMNI_DATABASE_URL='napomni.db'"),
        (
            {"NAPOMNI_SIP_TRANSPORT": "sctp"},
            "NAPOMNI_SIP_TRANSPORT='sctp': допустимые значения udp, tcp, tls",
        ),
    ],
)
def test_a_bad_value_names_the_variable(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(env, cwd=tmp_path)
    assert str(err.value).startswith(message)


def test_the_sip_password_never_shows_in_repr(tmp_path: Path) -> None:
    settings = load_settings({"NAPOMNI_SIP_PASSWORD": "s3cr3t-trunk"}, cwd=tmp_path)
    assert "s3cr3t-trunk" not in repr(settings)
    assert "s3cr3t-trunk" not in repr(settings.sip)


def test_sms_settings_are_parsed_and_their_secrets_never_shown(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "NAPOMNI_SMS_KANNEL_URL": "http://127.0.0.1:13013/cgi-bin/sendsms",
            "NAPOMNI_SMS_KANNEL_PASSWORD": "kannel-secret",
            "NAPOMNI_SMS_PUBLIC_URL": "https://pay.uk.example/",
            "NAPOMNI_SMS_DLR_TOKEN": "dlr-secret-0123456789",
        },
        cwd=tmp_path,
    )
    assert settings.sms.public_url == "https://pay.uk.example"
    assert settings.sms.dlr_token == "dlr-secret-0123456789"
    assert "kannel-secret" not in repr(settings)
    assert "dlr-secret" not in repr(settings)
    with pytest.raises(SettingsError, match="NAPOMNI_SMS_PUBLIC_URL"):
        load_settings({"NAPOMNI_SMS_PUBLIC_URL": "pay.example"}, cwd=tmp_path)
    with pytest.raises(SettingsError, match="NAPOMNI_SMS_DLR_TOKEN"):
        load_settings({"NAPOMNI_SMS_DLR_TOKEN": "short"}, cwd=tmp_path)
