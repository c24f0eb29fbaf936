from pathlib import Path

import pytest

from napomni.settings import SettingsError, load_settings


def test_defaults_put_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({}, cwd=tmp_path)
    assert settings.data_dir == tmp_path / "var"
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'napomni.db'}"
    assert settings.sip.adapter == "baresip-process"


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


def test_smpp_settings_are_parsed_and_the_password_never_shown(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "NAPOMNI_SMS_GATEWAY": "SMPP",
            "NAPOMNI_SMS_SMPP_HOST": "smsc.operator.example",
            "NAPOMNI_SMS_SMPP_PORT": "3700",
            "NAPOMNI_SMS_SMPP_SYSTEM_ID": "uk_tver",
            "NAPOMNI_SMS_SMPP_PASSWORD": "pw#12345",
            "NAPOMNI_SMS_SMPP_SYSTEM_TYPE": "napomni",
            "NAPOMNI_SMS_SMPP_BIND": "transmitter",
        },
        cwd=tmp_path,
    )
    sms = settings.sms
    assert (sms.gateway, sms.smpp_host, sms.smpp_port) == ("smpp", "smsc.operator.example", 3700)
    assert (sms.smpp_system_id, sms.smpp_password) == ("uk_tver", "pw#12345")
    assert (sms.smpp_system_type, sms.smpp_bind) == ("napomni", "transmitter")
    assert "pw#12345" not in repr(settings)
    assert load_settings({}, cwd=tmp_path).sms.gateway == "kannel"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"NAPOMNI_SMS_GATEWAY": "smtp"}, "NAPOMNI_SMS_GATEWAY"),
        ({"NAPOMNI_SMS_GATEWAY": "smpp"}, "NAPOMNI_SMS_SMPP_SYSTEM_ID"),
        ({"NAPOMNI_SMS_SMPP_SYSTEM_ID": "a-very-long-system-id"}, "NAPOMNI_SMS_SMPP_SYSTEM_ID"),
        ({"NAPOMNI_SMS_SMPP_PASSWORD": "longer-than-8"}, "NAPOMNI_SMS_SMPP_PASSWORD"),
        ({"NAPOMNI_SMS_SMPP_PASSWORD": "пароль"}, "NAPOMNI_SMS_SMPP_PASSWORD"),
        ({"NAPOMNI_SMS_SMPP_PORT": "70000"}, "NAPOMNI_SMS_SMPP_PORT"),
        ({"NAPOMNI_SMS_SMPP_HOST": "smsc:2775"}, "NAPOMNI_SMS_SMPP_HOST"),
        ({"NAPOMNI_SMS_SMPP_BIND": "receiver"}, "NAPOMNI_SMS_SMPP_BIND"),
    ],
)
def test_a_bad_smpp_setting_names_itself(tmp_path: Path, env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name) as failed:
        load_settings(env, cwd=tmp_path)
    assert "longer-than-8" not in str(failed.value)


def test_metrics_and_log_settings(tmp_path: Path) -> None:
    defaults = load_settings({}, cwd=tmp_path)
    assert (defaults.log_format, defaults.metrics_token, defaults.metrics_address) == (
        "text",
        "",
        "127.0.0.1",
    )
    token = "scrape-" + "t" * 20
    settings = load_settings(
        {
            "NAPOMNI_LOG_FORMAT": "JSON",
            "NAPOMNI_METRICS_TOKEN": token,
            "NAPOMNI_METRICS_ADDRESS": "[::1]",
        },
        cwd=tmp_path,
    )
    assert (settings.log_format, settings.metrics_token, settings.metrics_address) == (
        "json",
        token,
        "::1",
    )
    assert token not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NAPOMNI_LOG_FORMAT": "xml"}, "NAPOMNI_LOG_FORMAT='xml': допустимые значения text, json"),
        ({"NAPOMNI_METRICS_TOKEN": "short"}, "NAPOMNI_METRICS_TOKEN: нужно не меньше 16"),
        ({"NAPOMNI_METRICS_ADDRESS": "localhost"}, "NAPOMNI_METRICS_ADDRESS='localhost'"),
    ],
)
def test_bad_metrics_and_log_settings_name_the_variable(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env, cwd=tmp_path)
    if "TOKEN" in message:
        with pytest.raises(SettingsError) as caught:
            load_settings(env, cwd=tmp_path)
        assert "short" not in str(caught.value)
