"""Compliance: calling hours, frequency caps, outcome counting and stop flags.

Pure rules with no I/O; :mod:`dialer.campaigns` applies them inside the claim transaction.
"""

from dialer.compliance.calendar import ProductionCalendar
from dialer.compliance.caps import (
    LEGAL_CAPS,
    CapBlock,
    ContactKind,
    Counts,
    FrequencyCaps,
    LedgerState,
    Limits,
    Periods,
    blocking_cap,
)
from dialer.compliance.errors import ComplianceConfigError, ComplianceError
from dialer.compliance.hours import (
    LEGAL_DAY_OFF,
    LEGAL_WORKDAY,
    DailyWindow,
    HoursPolicy,
    is_callable_at,
    local_window,
    next_callable_at,
)
from dialer.compliance.outcomes import DEFAULT_COUNTING, CallOutcome, CountingRules, StopFlag

__all__ = [
    "DEFAULT_COUNTING",
    "LEGAL_CAPS",
    "LEGAL_DAY_OFF",
    "LEGAL_WORKDAY",
    "CallOutcome",
    "CapBlock",
    "ComplianceConfigError",
    "ComplianceError",
    "ContactKind",
    "Counts",
    "CountingRules",
    "DailyWindow",
    "FrequencyCaps",
    "HoursPolicy",
    "LedgerState",
    "Limits",
    "Periods",
    "ProductionCalendar",
    "StopFlag",
    "blocking_cap",
    "is_callable_at",
    "local_window",
    "next_callable_at",
]
