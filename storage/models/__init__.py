"""Mapped classes of the debt book and everything added on top of it.

Every mapped module is imported here so that ``Base.metadata`` knows every table
(Alembic and the tests rely on it); a part adding tables adds one import line.
"""

from storage.models import callbacks as callbacks  # web part: collectors' callbacks on cases
from storage.models import campaigns as campaigns  # campaigns part: queue, calls, ledger
from storage.models import import_jobs as import_jobs  # 1С imports from the web (0022)
from storage.models import messages as messages  # messages part: SMS outbox, payees (0012)
from storage.models import reports as reports  # report summaries kept by triggers (0004)
from storage.models import script_versions as script_versions  # scripts edited in the web (0023)
from storage.models import transfers as transfers  # live transfers to collectors (0021)
from storage.models import users as users  # web part: users, organisations they see, audit log
from storage.models.base import MONEY, Base, Money, UtcDateTime
from storage.models.debt_book import (
    DEFAULT_TIME_ZONE,
    Account,
    Building,
    Organisation,
    Person,
    Phone,
    sensitive_columns,
    utc_now,
)
from storage.models.enums import (
    ContactKind,
    PaymentChannel,
    PersonRole,
    PhoneKind,
    PhoneSource,
    PhoneStatus,
)
from storage.models.history import APPEND_ONLY_TABLES, ContactEvent
from storage.models.ledger import DebtLine, Payment, PaymentAllocation, SegmentRules

__all__ = [
    "APPEND_ONLY_TABLES",
    "DEFAULT_TIME_ZONE",
    "MONEY",
    "Account",
    "Base",
    "Building",
    "ContactEvent",
    "ContactKind",
    "DebtLine",
    "Money",
    "Organisation",
    "Payment",
    "PaymentAllocation",
    "PaymentChannel",
    "Person",
    "PersonRole",
    "Phone",
    "PhoneKind",
    "PhoneSource",
    "PhoneStatus",
    "SegmentRules",
    "UtcDateTime",
    "sensitive_columns",
    "utc_now",
]
