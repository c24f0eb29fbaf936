"""Messages to debtors after a call: the outbox, the sender, gateways, payment pages.

The call's final transaction writes the message the script asked for
(:func:`enqueue_after_call`); :class:`Sender` delivers it through an
:class:`SmsGateway` (:class:`KannelGateway`, or ``dialer.messages.smpp.SmppGateway`` straight
to an SMSC); delivery reports come back through :func:`record_delivery_report`; the payment page and its ГОСТ QR are read with
:func:`open_payment_page`. :func:`can_send_message` tells a call whether it may promise one.
"""

from dialer.messages.content import (
    DEFAULT_TEMPLATE,
    PaymentDetails,
    check_template,
    gost_payment_string,
    payment_qr_png,
    render_message,
    rubles,
)
from dialer.messages.errors import (
    GatewayError,
    GatewayRejected,
    GatewayUnavailable,
    MessageError,
    PayeeError,
    TemplateError,
)
from dialer.messages.kannel import KannelConfig, KannelGateway
from dialer.messages.outbox import (
    MessageRequest,
    claim_due,
    enqueue_after_call,
    record_delivery_report,
    record_opt_out,
    retry_failed,
)
from dialer.messages.payee import Payee
from dialer.messages.policy import MessageCheck, can_send_message, check_message, is_mobile
from dialer.messages.port import Accepted, OutgoingSms, SmsGateway
from dialer.messages.reading import (
    AccountMessage,
    MessageCounts,
    PaymentPage,
    account_messages,
    message_counts,
    open_payment_page,
    outbox_counts,
)
from dialer.messages.sender import Sender, SenderConfig

__all__ = [
    "DEFAULT_TEMPLATE",
    "Accepted",
    "AccountMessage",
    "GatewayError",
    "GatewayRejected",
    "GatewayUnavailable",
    "KannelConfig",
    "KannelGateway",
    "MessageCheck",
    "MessageCounts",
    "MessageError",
    "MessageRequest",
    "OutgoingSms",
    "Payee",
    "PayeeError",
    "PaymentDetails",
    "PaymentPage",
    "Sender",
    "SenderConfig",
    "SmsGateway",
    "TemplateError",
    "account_messages",
    "can_send_message",
    "check_message",
    "check_template",
    "claim_due",
    "enqueue_after_call",
    "gost_payment_string",
    "is_mobile",
    "message_counts",
    "open_payment_page",
    "outbox_counts",
    "payment_qr_png",
    "record_delivery_report",
    "record_opt_out",
    "render_message",
    "retry_failed",
    "rubles",
]
