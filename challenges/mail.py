"""Outgoing mail through an outbox table.

Services call `queue()` inside their transaction; the message exists only if that transaction
commits, and a delivery job sends it afterwards. Each message is marked sent in its own commit,
and a `dedupe_key` stops the same notice being queued twice, so a crash or a retry neither loses
nor repeats mail. Without MAIL_SERVER the message is printed to the console and kept.
"""

from __future__ import annotations

import base64
import hashlib
import smtplib
import sys
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from flask import current_app, render_template
from jinja2 import TemplateNotFound
from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from . import jobs
from .extensions import db
from .text import one_line
from .timezones import UTCDateTime, utcnow


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_addr: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    attachments: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    template: Mapped[str] = mapped_column(String(80))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    backend: Mapped[str | None] = mapped_column(String(20))


def queue(
    *,
    to: str,
    subject: str,
    template: str,
    dedupe_key: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
    **context: Any,
) -> OutboxMessage:
    """Render `templates/email/<template>.txt` (and `.html` if present) into the outbox."""
    session = db.session
    subject = one_line(subject, 300)  # a header: one line, and the column's length
    if dedupe_key and len(dedupe_key) > 200:  # keys carry addresses, which may be 254 characters long
        dedupe_key = dedupe_key[:130] + "#" + hashlib.sha256(dedupe_key.encode()).hexdigest()
    if dedupe_key:
        existing = session.execute(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
        ).scalar_one_or_none()
        if existing is not None:
            return existing
    context.setdefault("site_name", current_app.config["SITE_NAME"])
    context.setdefault("site_url", current_app.config["SITE_URL"])
    body_text = render_template(f"email/{template}.txt", subject=subject, **context)
    try:
        body_html: str | None = render_template(f"email/{template}.html", subject=subject, **context)
    except TemplateNotFound:
        body_html = None
    message = OutboxMessage(
        to_addr=to,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        headers=headers or {},
        attachments=[
            {"filename": name, "content_type": ctype, "data": base64.b64encode(data).decode()}
            for name, ctype, data in (attachments or [])
        ],
        template=template,
        dedupe_key=dedupe_key,
    )
    session.add(message)
    session.flush()
    jobs.enqueue("mail.deliver", once_per_transaction=True)
    return message


def _build(message: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    email["To"] = message.to_addr
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(idstring=f"outbox{message.id}")
    for name, value in (message.headers or {}).items():
        email[name] = value
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    for item in message.attachments or []:
        maintype, _, subtype = item["content_type"].partition("/")
        email.add_attachment(
            base64.b64decode(item["data"]), maintype=maintype, subtype=subtype, filename=item["filename"]
        )
    return email


def _send(email: EmailMessage) -> str:
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        print(f"\n----- mail (console backend) -----\n{email}\n----- end mail -----", file=sys.stdout)
        return "console"
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(email)
    return "smtp"


@jobs.task("mail.deliver")
def deliver_pending(job: jobs.Job | None = None, limit: int = 500) -> dict[str, int]:
    """Send unsent messages, each marked in its own commit; failures retry later."""
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    sent = failed = 0
    query = (
        select(OutboxMessage.id)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < max_attempts)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    for message_id in list(db.session.execute(query).scalars()):
        message = db.session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None))
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if message is None:
            continue  # another worker has it
        message.attempts += 1
        try:
            email = _build(message)
        except (ValueError, TypeError) as exc:
            # The message itself is malformed (a header the email library refuses): retrying cannot
            # help, and it must not hold up the messages queued after it.
            message.attempts = max_attempts
            message.last_error = f"cannot be built: {type(exc).__name__}: {exc}"[:2000]
            failed += 1
            db.session.commit()
            continue
        try:
            message.backend = _send(email)
            message.sent_at = utcnow()
            sent += 1
        except (OSError, smtplib.SMTPException) as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            failed += 1
        db.session.commit()
    return {"sent": sent, "failed": failed}
