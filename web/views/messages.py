"""Messages: the debtor's payment page (no login) and the gateway's delivery reports.

``/pay/{token}`` shows what a paper receipt shows — payee, bank details, ЛС, the sum and
date agreed — and the ГОСТ Р 56042-2014 QR (``/pay/{token}/qr.png``). The token is
unguessable and expires; an unknown or expired one answers 404 without saying which.
Pages are never cached and send no referrer (the token is in the address).

``/messages/dlr/{token}`` takes Kannel's delivery reports (``id``, ``s`` the report type,
``a`` the SMSC's answer); the token is the configured secret, compared in constant time.
A malformed report is logged by field name only and ignored.
"""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from sqlalchemy.orm import Session

from dialer.messages import open_payment_page, payment_qr_png, record_delivery_report, rubles
from dialer.messages.reading import PaymentPage
from storage.models import utc_now
from web.access import public
from web.db import in_thread, in_transaction
from web.keys import CONFIG
from web.pages import render
from web.routing import RouteTable

__all__ = ["register"]

log = logging.getLogger(__name__)

_PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


async def _page(request: web.Request, *, count_open: bool) -> PaymentPage | None:
    token = request.match_info.get("token", "")
    now = utc_now()

    def work(db: Session) -> PaymentPage | None:
        return open_payment_page(db, token, now, count_open=count_open)

    return await in_transaction(request.app, work)


async def payment_page(request: web.Request) -> web.Response:
    """The payment page of a message's link."""
    page = await _page(request, count_open=True)
    if page is None:
        response = await render(request, "pay.html", {"page": None, "token": ""}, status=404)
    else:
        response = await render(
            request,
            "pay.html",
            {
                "page": page,
                "amount": rubles(page.details.amount),
                "token": request.match_info["token"],
            },
        )
    response.headers.update(_PRIVATE_HEADERS)
    return response


async def payment_qr(request: web.Request) -> web.Response:
    """The page's QR code (PNG)."""
    page = await _page(request, count_open=False)
    if page is None:
        raise web.HTTPNotFound()
    details = page.details
    png = await in_thread(request.app, lambda: payment_qr_png(details))
    return web.Response(body=png, content_type="image/png", headers=_PRIVATE_HEADERS)


async def delivery_report(request: web.Request) -> web.Response:
    """A delivery report from the gateway (Kannel's dlr-url)."""
    expected = request.app[CONFIG].sms_dlr_token
    given = request.match_info.get("token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise web.HTTPNotFound()
    raw_id, raw_status = request.query.get("id", ""), request.query.get("s", "")
    if not (
        raw_id.isascii() and raw_id.isdigit() and raw_status.isascii() and raw_status.isdigit()
    ):
        # By field name only: the query may carry anything, even a number or a text.
        bad = "id" if not (raw_id.isascii() and raw_id.isdigit()) else "s"
        log.warning("delivery report ignored: malformed field %s", bad)
        return web.Response(status=400, text="malformed")
    message_id, status = int(raw_id), int(raw_status)
    if message_id > 2**62 or status > 1024:
        log.warning("delivery report ignored: value out of range")
        return web.Response(status=400, text="malformed")
    # The SMSC's answer ("ACK/", "id:… stat:DELIVRD …") is kept short and without the text.
    detail = request.query.get("a", "").split(" text:", 1)[0][:200]
    now = utc_now()
    known = await in_transaction(
        request.app, lambda db: record_delivery_report(db, message_id, status, detail, now)
    )
    if not known:
        log.warning("delivery report ignored: unknown message %s", message_id)
        return web.Response(status=404, text="unknown")
    return web.Response(text="ok")


def register(table: RouteTable) -> None:
    """Add this module's routes (all public: the debtor and the gateway have no login)."""
    table.add("GET", r"/pay/{token:[A-Za-z0-9_-]{16,64}}", payment_page, public())
    table.add("GET", r"/pay/{token:[A-Za-z0-9_-]{16,64}}/qr.png", payment_qr, public())
    table.add("GET", r"/messages/dlr/{token:[A-Za-z0-9_-]{1,128}}", delivery_report, public())
