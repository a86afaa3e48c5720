"""Sending one outbox row through its channel, and managing users' channels.

Each sender raises `DeliveryError` when trying again later may work (server
down, timeout, 5xx, rate limit) and `PermanentDeliveryError` when it cannot
(recipient refused, bad robot token or signature, 4xx): the outbox retries the
first with backoff and gives the second up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import quote_plus, urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from hallwatch.config import Settings, SmtpTarget
from hallwatch.redact import redact
from hallwatch.registry.alerting import ChannelRow, OutboxRow
from hallwatch.registry.models import UserRow

CHANNEL_KINDS = ("email", "dingtalk", "wecom", "webhook")
SIGNED_KINDS = ("dingtalk", "webhook")  # kinds that take a secret
HTTP_TIMEOUT_S = (5.0, 15.0)  # connect, read
SMTP_TIMEOUT_S = 20.0
ROBOT_TEXT_MAX_BYTES = 2000  # WeCom allows 2048 bytes of text; DingTalk more: stay under both
RETRYABLE_HTTP = frozenset({408, 425, 429})
# Robots answer HTTP 200 with an errcode: these mean "busy or too fast", worth another try.
RETRYABLE_ROBOT_ERRCODES = frozenset({-1, 130101, 45009, 45033, 90018})
EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")
SIGNATURE_HEADER = "X-HallWatch-Signature"  # webhook: sha256=<hex HMAC of the body>


class ChannelError(Exception):
    """A notification could not be delivered."""


class DeliveryError(ChannelError):
    """Delivery failed for now; the same message may go through later."""


class PermanentDeliveryError(ChannelError):
    """Delivery can never succeed as addressed; retrying would only repeat the failure."""


def _where(row: OutboxRow) -> str:
    """The row and its target, for messages (robot URLs carry tokens: host only)."""
    target = row.target if row.channel_kind == "email" else urlsplit(row.target).netloc
    return f"outbox {row.id} ({row.channel_kind} → {target})"


# --- e-mail ---------------------------------------------------------------------------


def email_message(row: OutboxRow, settings: Settings) -> EmailMessage:
    """The row as a UTF-8 e-mail from HALLWATCH_MAIL_FROM."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row.target
    message["Subject"] = row.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=f"hallwatch-{row.id}")
    message.set_content(row.body, charset="utf-8", cte="base64")  # 7-bit safe for any server
    return message


def _smtp_failure(row: OutboxRow, exc: smtplib.SMTPException) -> ChannelError:
    """5xx answers about this recipient or message are permanent; the rest may pass later."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(500 <= code < 600 for code in codes):
            return PermanentDeliveryError(f"{_where(row)}: recipient refused {exc.recipients}")
    if isinstance(exc, smtplib.SMTPDataError) and 500 <= exc.smtp_code < 600:
        return PermanentDeliveryError(f"{_where(row)}: message refused: {exc}")
    return DeliveryError(f"{_where(row)}: SMTP error: {exc}")


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Verify the mail server's certificate and name: the system's CAs, or HALLWATCH_SMTP_CA."""
    return ssl.create_default_context(cafile=settings.smtp_ca)


def send_email(row: OutboxRow, settings: Settings) -> None:
    """Send through HALLWATCH_SMTP_URL (smtp://, smtps://, ?starttls=1), verifying TLS."""
    target = settings.smtp_target()
    if target is None:
        raise DeliveryError(f"{_where(row)}: HALLWATCH_SMTP_URL is not set")
    if not EMAIL_RE.match(row.target):
        raise PermanentDeliveryError(f"{_where(row)}: not an e-mail address")
    server = f"{target.host}:{target.port}"
    try:
        with _smtp_connection(target, settings) as smtp:
            if target.starttls:
                smtp.starttls(context=tls_context(settings))
            if target.username:
                smtp.login(target.username, target.password or "")
            smtp.send_message(email_message(row, settings))
    except smtplib.SMTPException as exc:
        raise _smtp_failure(row, exc) from exc
    except ssl.SSLError as exc:
        raise DeliveryError(
            f"{_where(row)}: mail server {server} failed the TLS check ({exc.reason or exc}); "
            "trust its CA with HALLWATCH_SMTP_CA"
        ) from exc
    except OSError as exc:
        raise DeliveryError(f"{_where(row)}: mail server {server} unreachable: {exc}") from exc


def _smtp_connection(target: SmtpTarget, settings: Settings) -> smtplib.SMTP:
    if target.implicit_tls:
        return smtplib.SMTP_SSL(
            target.host, target.port, timeout=SMTP_TIMEOUT_S, context=tls_context(settings)
        )
    return smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT_S)


# --- HTTP robots and webhooks ---------------------------------------------------------


def _post(row: OutboxRow, url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    """POST JSON; transport failures, 5xx and throttling are retryable, other 4xx are not."""
    headers = {"Content-Type": "application/json; charset=utf-8", **headers}
    try:
        answer = requests.post(url, data=body, headers=headers, timeout=HTTP_TIMEOUT_S)
    except requests.RequestException as exc:
        # requests repeats the whole URL, robot token and signature included.
        raise DeliveryError(f"{_where(row)}: {type(exc).__name__}: {redact(str(exc))}") from exc
    if answer.status_code >= 500 or answer.status_code in RETRYABLE_HTTP:
        raise DeliveryError(f"{_where(row)}: HTTP {answer.status_code}: {_answer(answer)}")
    if answer.status_code >= 400:
        raise PermanentDeliveryError(f"{_where(row)}: HTTP {answer.status_code}: {_answer(answer)}")
    return answer


def _answer(answer: requests.Response) -> str:
    """The start of a server's answer, for messages (an error page may echo the URL)."""
    return redact(answer.text[:200])


def _check_errcode(row: OutboxRow, answer: requests.Response) -> None:
    """DingTalk and WeCom answer 200 with {"errcode": 0} on success."""
    try:
        reply = answer.json()
    except ValueError as exc:
        raise DeliveryError(f"{_where(row)}: answer is not JSON: {_answer(answer)!r}") from exc
    if not isinstance(reply, dict):
        raise DeliveryError(f"{_where(row)}: answer is not a JSON object: {reply!r:.200}")
    code = reply.get("errcode")
    if code == 0:
        return
    text = f"{_where(row)}: errcode {code}: {reply.get('errmsg')}"
    if code in RETRYABLE_ROBOT_ERRCODES or not isinstance(code, int):
        raise DeliveryError(text)
    raise PermanentDeliveryError(text)


def robot_text(row: OutboxRow) -> str:
    """Subject and body as one text, cut to what every robot accepts."""
    text = f"{row.subject}\n{row.body}" if row.subject else row.body
    encoded = text.encode("utf-8")
    if len(encoded) <= ROBOT_TEXT_MAX_BYTES:
        return text
    return encoded[: ROBOT_TEXT_MAX_BYTES - 3].decode("utf-8", "ignore") + "…"


def _robot_body(row: OutboxRow) -> bytes:
    message = {"msgtype": "text", "text": {"content": robot_text(row)}}
    return json.dumps(message, ensure_ascii=False).encode("utf-8")


def dingtalk_signature(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signed mode: base64 of HMAC-SHA256(key=secret, f"{timestamp}\\n{secret}")."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def dingtalk_url(webhook: str, secret: str | None, timestamp_ms: int) -> str:
    """The robot URL, with &timestamp=…&sign=… (URL-encoded) appended in signed mode."""
    if not secret:
        return webhook
    joiner = "&" if urlsplit(webhook).query else "?"
    sign = quote_plus(dingtalk_signature(secret, timestamp_ms))
    return f"{webhook}{joiner}timestamp={timestamp_ms}&sign={sign}"


def send_dingtalk(row: OutboxRow, settings: Settings) -> None:
    """DingTalk custom group robot: a text message, signed when the channel has a secret."""
    url = dingtalk_url(row.target, row.secret, int(time.time() * 1000))
    _check_errcode(row, _post(row, url, _robot_body(row), {}))


def send_wecom(row: OutboxRow, settings: Settings) -> None:
    """WeCom (企业微信) group robot: a text message to its webhook URL."""
    _check_errcode(row, _post(row, row.target, _robot_body(row), {}))


def webhook_body(row: OutboxRow) -> dict[str, Any]:
    """The alert's fields (docs/API.md) as enqueued, plus subject and text."""
    return {**(row.payload or {}), "subject": row.subject, "text": row.body}


def send_webhook(row: OutboxRow, settings: Settings) -> None:
    """Generic JSON webhook; any 2xx is success. With a secret, the body is HMAC-signed."""
    body = json.dumps(webhook_body(row), ensure_ascii=False).encode("utf-8")
    headers = {}
    if row.secret:
        digest = hmac.new(row.secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADER] = f"sha256={digest}"
    _post(row, row.target, body, headers)


SENDERS: dict[str, Callable[[OutboxRow, Settings], None]] = {
    "email": send_email,
    "dingtalk": send_dingtalk,
    "wecom": send_wecom,
    "webhook": send_webhook,
}


def send(row: OutboxRow, settings: Settings) -> None:
    """Deliver one outbox row through the sender of its channel kind."""
    sender = SENDERS.get(row.channel_kind)
    if sender is None:
        raise PermanentDeliveryError(f"{_where(row)}: unknown channel kind")
    sender(row, settings)


# --- users' channels ------------------------------------------------------------------


def _user(session: Session, username: str) -> UserRow:
    user = session.scalars(select(UserRow).where(UserRow.username == username)).one_or_none()
    if user is None:
        raise ValueError(f"no user named {username!r}")
    return user


def _check_target(kind: str, target: str) -> None:
    if kind == "email":
        if not EMAIL_RE.match(target):
            raise ValueError(f"email channel needs an e-mail address, got {target!r}")
        return
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{kind} channel needs an http(s):// URL, got {target!r}")


def add_channel(
    session: Session,
    username: str,
    kind: str,
    target: str,
    secret: str | None = None,
    now: datetime | None = None,
) -> ChannelRow:
    """Give `username` a channel (the same kind and target again updates its secret)."""
    if kind not in CHANNEL_KINDS:
        raise ValueError(f"unknown channel kind {kind!r}; kinds are {', '.join(CHANNEL_KINDS)}")
    target = target.strip()
    _check_target(kind, target)
    if secret and kind not in SIGNED_KINDS:
        raise ValueError(f"a {kind} channel takes no secret (only {', '.join(SIGNED_KINDS)})")
    user = _user(session, username)
    row = session.scalars(
        select(ChannelRow).where(
            ChannelRow.user_id == user.id, ChannelRow.kind == kind, ChannelRow.target == target
        )
    ).first()
    if row is None:
        row = ChannelRow(
            user_id=user.id, kind=kind, target=target, created_at=now or datetime.now(UTC)
        )
        session.add(row)
    row.secret = secret or None
    session.flush()
    return row


def list_channels(session: Session, username: str) -> list[ChannelRow]:
    """The user's channels, oldest first."""
    user = _user(session, username)
    return list(
        session.scalars(
            select(ChannelRow).where(ChannelRow.user_id == user.id).order_by(ChannelRow.id)
        )
    )


def remove_channel(session: Session, username: str, channel_id: int) -> None:
    """Delete one of the user's channels; messages already queued for it still go out."""
    user = _user(session, username)
    row = session.get(ChannelRow, channel_id)
    if row is None or row.user_id != user.id:
        raise ValueError(f"user {username!r} has no channel {channel_id}")
    session.delete(row)
    session.flush()


def channels_of(session: Session, user_id: int) -> list[ChannelRow]:
    """The channels of one user id, oldest first."""
    return list(
        session.scalars(
            select(ChannelRow).where(ChannelRow.user_id == user_id).order_by(ChannelRow.id)
        )
    )
