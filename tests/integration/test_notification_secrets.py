"""Mail over TLS verifies the server; robot tokens and signatures stay out of logs and the
outbox (issue 17, item 6). A real aiosmtpd with TLS, a real HTTP server, a real database."""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from alerts.channels import add_channel
from alerts.outbox import deliver_due
from console.cli import _setup_logging
from tests.helpers import wait_until
from tests.integration.notify_servers import (
    DING_SECRET,
    DING_TOKEN,
    SETTINGS,
    Inbox,
    announce,
    check_login,
    free_port,
    outbox,
)
from tests.tls_helpers import make_ca_and_server_cert
from tests.unit.hall import at

pytestmark = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
WECOM_KEY = "wecomKEY0123456789"


class TlsSmtp:
    """aiosmtpd speaking TLS from the first byte (smtps) or after STARTTLS."""

    def __init__(self, pki: Path, implicit: bool) -> None:
        files = make_ca_and_server_cert(pki)
        self.ca = str(files.cafile)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(files.certfile, files.keyfile)
        self.inbox = Inbox()
        self.port = free_port()
        tls = {"ssl_context": context} if implicit else {"tls_context": context}
        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=check_login,
            auth_require_tls=not implicit,
            **tls,
        )
        scheme, query = ("smtps", "") if implicit else ("smtp", "?starttls=1")
        self.url = f"{scheme}://hall:p%40ss@127.0.0.1:{self.port}{query}"

    def __enter__(self) -> TlsSmtp:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


@pytest.fixture(params=["smtps", "starttls"])
def tls_smtp(request, tmp_path) -> Iterator[TlsSmtp]:
    with TlsSmtp(tmp_path / "pki", implicit=request.param == "smtps") as server:
        yield server


def _mail_to_wang(sessions) -> None:
    with sessions() as session, session.begin():
        add_channel(session, "wang", "email", "wang@hall.example")
    announce(sessions)


def test_a_mail_server_with_an_untrusted_certificate_gets_nothing(sessions, tls_smtp):
    _mail_to_wang(sessions)
    settings = replace(SETTINGS, smtp_url=tls_smtp.url)  # the system's CAs only

    stats = deliver_due(sessions, settings, at("10:12"))

    assert (stats.sent, stats.retrying) == (0, 1)
    assert not tls_smtp.inbox.messages and not any(tls_smtp.inbox.logins)
    [row] = outbox(sessions)
    assert "failed the TLS check" in row.last_error and "HALLWATCH_SMTP_CA" in row.last_error


def test_a_mail_server_trusted_through_the_ca_option_gets_the_mail(sessions, tls_smtp):
    _mail_to_wang(sessions)
    settings = replace(SETTINGS, smtp_url=tls_smtp.url, smtp_ca=tls_smtp.ca)

    assert deliver_due(sessions, settings, at("10:12")).sent == 1
    [mail] = wait_until(lambda: tls_smtp.inbox.messages)
    assert mail["To"] == "wang@hall.example" and tls_smtp.inbox.logins == [b"hall"]


def test_a_certificate_from_another_ca_is_refused(sessions, tls_smtp, tmp_path):
    _mail_to_wang(sessions)
    other = make_ca_and_server_cert(tmp_path / "other", "other")
    settings = replace(SETTINGS, smtp_url=tls_smtp.url, smtp_ca=str(other.cafile))

    assert deliver_due(sessions, settings, at("10:12")).retrying == 1
    assert not tls_smtp.inbox.messages


def test_robot_tokens_and_signatures_reach_no_log_line_and_no_stored_error(
    sessions,
    robots,
    caplog,
):
    base, _ = robots
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: requests repeats the URL
    with sessions() as session, session.begin():
        add_channel(
            session, "wang", "dingtalk", f"{dead}/robot/send?access_token={DING_TOKEN}", DING_SECRET
        )
        add_channel(session, "wang", "wecom", f"{dead}/cgi-bin/webhook/send?key={WECOM_KEY}")
        add_channel(
            session, "li", "dingtalk", f"{base}/robot/send?access_token={DING_TOKEN}", DING_SECRET
        )
    announce(sessions)
    _setup_logging(verbose=True)  # as every `hallwatch` command sets logging up
    caplog.set_level(logging.DEBUG)

    stats = deliver_due(sessions, SETTINGS, at("10:12"))

    assert (stats.sent, stats.retrying) == (1, 2)
    errors = [row.last_error for row in outbox(sessions) if row.last_error]
    assert len(errors) == 2 and all("ConnectionError" in e for e in errors)
    assert any("access_token=***" in e and "sign=***" in e for e in errors), errors
    assert any("key=***" in e for e in errors), errors
    logged = caplog.text
    assert "will retry" in logged and "/robot/send" in logged  # urllib3 logs the requests
    unmasked = re.compile(r"(access_token|key|sign)=(?!\*\*\*)")
    for text in (*errors, logged):
        assert DING_TOKEN not in text and WECOM_KEY not in text
        assert not unmasked.search(text), text
    assert "sign=***" in logged
