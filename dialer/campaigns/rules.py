"""An organisation's calling rules: the law, narrowed by the organisation's own policy.

The policy row (``organisation_policies.call_rules``) is JSON a lawyer may edit::

    {"workday": ["09:10", "19:50"], "day_off": ["10:00", "18:00"], "end_margin_min": 10,
     "caps": {"conversation": [1, 2, 6], "message": [2, 4, 12]},
     "count_as": {"voicemail": "conversation"}}

Every value is validated; nothing can be looser than the law.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from dialer.campaigns.errors import CampaignConfigError
from dialer.compliance import (
    DEFAULT_COUNTING,
    LEGAL_CAPS,
    CallOutcome,
    ComplianceConfigError,
    ContactKind,
    CountingRules,
    DailyWindow,
    FrequencyCaps,
    HoursPolicy,
    Limits,
    ProductionCalendar,
)

__all__ = ["CallRules", "call_rules_from_json"]


@dataclass(frozen=True, slots=True)
class CallRules:
    """Hours, caps and counting that apply to one organisation's calls."""

    calendar: ProductionCalendar = field(default_factory=ProductionCalendar)
    hours: HoursPolicy = field(default_factory=HoursPolicy)
    caps: FrequencyCaps = LEGAL_CAPS
    counting: CountingRules = DEFAULT_COUNTING

    def for_campaign(self, daily_start: dt.time | None, daily_end: dt.time | None) -> CallRules:
        """These rules narrowed to a campaign's daily hours (if it has them)."""
        if daily_start is None or daily_end is None:
            return self
        try:
            window = DailyWindow(daily_start, daily_end)
        except ComplianceConfigError as err:
            raise CampaignConfigError(f"часы кампании: {err}") from err
        return CallRules(self.calendar, self.hours.narrowed_daily(window), self.caps, self.counting)


def _window(data: Mapping[str, object], key: str) -> DailyWindow | None:
    raw = data.get(key)
    if raw is None:
        return None
    if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(v, str) for v in raw)):
        raise CampaignConfigError(f'call_rules.{key}: ожидается ["ЧЧ:ММ", "ЧЧ:ММ"]')
    try:
        return DailyWindow(dt.time.fromisoformat(str(raw[0])), dt.time.fromisoformat(str(raw[1])))
    except (ValueError, ComplianceConfigError) as err:
        raise CampaignConfigError(f"call_rules.{key}: {err}") from err


def _limits(raw: object, key: str) -> Limits:
    if not (isinstance(raw, list) and len(raw) == 3 and all(isinstance(v, int) for v in raw)):
        raise CampaignConfigError(f"call_rules.caps.{key}: ожидается [день, неделя, месяц]")
    return Limits(int(raw[0]), int(raw[1]), int(raw[2]))


def call_rules_from_json(
    data: Mapping[str, object], calendar: ProductionCalendar | None = None
) -> CallRules:
    """Validated :class:`CallRules` from an organisation's policy JSON (``{}`` → the law)."""
    known = {"workday", "day_off", "end_margin_min", "caps", "count_as"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CampaignConfigError(f"call_rules: неизвестные ключи {', '.join(unknown)}")
    try:
        hours = HoursPolicy()
        margin = data.get("end_margin_min")
        if margin is not None and not isinstance(margin, int):
            raise CampaignConfigError("call_rules.end_margin_min: ожидается целое число минут")
        hours = hours.narrowed(
            _window(data, "workday"),
            _window(data, "day_off"),
            end_margin=dt.timedelta(minutes=margin) if margin is not None else None,
        )
        caps_raw = data.get("caps") or {}
        if not isinstance(caps_raw, Mapping):
            raise CampaignConfigError("call_rules.caps: ожидается объект")
        caps = FrequencyCaps(
            conversation=_limits(caps_raw["conversation"], "conversation")
            if "conversation" in caps_raw
            else LEGAL_CAPS.conversation,
            message=_limits(caps_raw["message"], "message")
            if "message" in caps_raw
            else LEGAL_CAPS.message,
        )
        count_raw = data.get("count_as") or {}
        if not isinstance(count_raw, Mapping):
            raise CampaignConfigError("call_rules.count_as: ожидается объект")
        counting = CountingRules(
            {CallOutcome(str(k)): ContactKind(str(v)) for k, v in count_raw.items()}
        )
    except (ComplianceConfigError, ValueError) as err:
        if isinstance(err, CampaignConfigError):
            raise
        raise CampaignConfigError(f"call_rules: {err}") from err
    return CallRules(calendar or ProductionCalendar(), hours, caps, counting)
