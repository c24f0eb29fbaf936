"""The transfers report (issue 16) for the reports page and its API: offered, connected,
lost (abandoned while waiting, nobody on the line, not answered), the debtor's wait p50/p95
and what came of the transferred calls, beside robot vs human."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from storage.transfer_reports import TransferSummary, transfer_summary
from web.access import Principal
from web.escalations import RESOLUTION_TITLES
from web.reports import PAID_WINDOWS_DAYS, ReportPeriod
from web.robot_vs_human import SideRow

__all__ = ["TRANSFER_SIDE", "TransferReport", "transfer_report", "transfer_side"]

TRANSFER_SIDE = "Перевод на специалиста"


@dataclass(frozen=True, slots=True)
class TransferReport:
    """The period's transfers (API and page); waits in seconds, one decimal."""

    first: str
    last: str
    offered: int
    connected: int
    abandoned: int
    no_collector: int
    no_answer: int
    refused: int
    failed: int
    in_progress: int
    by_refer: int
    by_bridge: int
    connected_share: Decimal | None
    wait_p50_s: Decimal | None
    wait_p95_s: Decimal | None
    answered_wait_p50_s: Decimal | None
    promises: int
    promised_sum: Decimal
    kept: int
    kept_sum: Decimal
    broken: int
    resolutions: dict[str, int]


def _seconds(ms: int | None) -> Decimal | None:
    return None if ms is None else (Decimal(ms) / 1000).quantize(Decimal("0.1"))


def transfer_report(session: Session, principal: Principal, period: ReportPeriod) -> TransferReport:
    """Transfers offered in ``period`` in the organisations ``principal`` sees."""
    organisations = (
        None if principal.organisation_ids is None else sorted(principal.organisation_ids)
    )
    s: TransferSummary = transfer_summary(session, organisations, period.start, period.end)
    share = (
        None
        if not s.offered
        else (Decimal(s.connected) / Decimal(s.offered)).quantize(Decimal("0.0001"))
    )
    return TransferReport(
        first=period.first.isoformat(),
        last=period.last.isoformat(),
        offered=s.offered,
        connected=s.connected,
        abandoned=s.abandoned,
        no_collector=s.no_collector,
        no_answer=s.no_answer,
        refused=s.refused,
        failed=s.failed,
        in_progress=s.in_progress,
        by_refer=s.by_refer,
        by_bridge=s.by_bridge,
        connected_share=share,
        wait_p50_s=_seconds(s.wait_p50_ms),
        wait_p95_s=_seconds(s.wait_p95_ms),
        answered_wait_p50_s=_seconds(s.answered_wait_p50_ms),
        promises=s.promises,
        promised_sum=s.promised_sum,
        kept=s.kept,
        kept_sum=s.kept_sum,
        broken=s.broken,
        resolutions=s.resolutions,
    )


def _resolution_title(code: str) -> str:
    titles = {resolution.value: text for resolution, text in RESOLUTION_TITLES.items()}
    return titles.get(code, code)


def transfer_side(report: TransferReport) -> SideRow:
    """The transfers as a row of the robot vs human table: a contact is a connected
    transfer (the debtor talked to a person), its outcomes those of the linked cases."""
    return SideRow(
        side=TRANSFER_SIDE,
        contacts=report.connected,
        with_debtor=report.connected,
        promises=report.promises,
        promised_sum=report.promised_sum,
        kept=report.kept,
        kept_sum=report.kept_sum,
        broken=report.broken,
        # The paid-after shares are not split by transfer: shown as «—».
        paid_share=dict.fromkeys(PAID_WINDOWS_DAYS),
        outcomes={_resolution_title(code): n for code, n in report.resolutions.items()},
    )
