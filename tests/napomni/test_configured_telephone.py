"""``NAPOMNI_SIP_ADAPTER`` picks the telephone the worker, the demo and ``napomni call`` use."""

from pathlib import Path

import pytest

from dialer.telephony.baresip import BaresipTelephone
from dialer.telephony.pyvoip import PyVoipTelephone
from dialer.telephony.remote import ProcessTelephone
from napomni.commands.call import configured_telephone, sip_config
from napomni.settings import load_settings


@pytest.mark.parametrize(
    ("adapter", "kind"),
    [
        (None, ProcessTelephone),
        ("baresip-process", ProcessTelephone),
        ("baresip", BaresipTelephone),
        ("pyvoip", PyVoipTelephone),
    ],
)
def test_the_named_adapter_is_the_one_built(
    tmp_path: Path, adapter: str | None, kind: type[object]
) -> None:
    env = {"NAPOMNI_SIP_PASSWORD": "secret"}
    if adapter is not None:
        env["NAPOMNI_SIP_ADAPTER"] = adapter
    settings = load_settings(env, cwd=tmp_path)
    # Built, not started: no process, socket or registration yet.
    assert isinstance(configured_telephone(settings, sip_config(settings)), kind)
