"""AcsMailer against the loopback ACS Email stand-in, through the real azure-communication-email client."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator

import pytest

from backup_events.adapters.acs_mailer import AcsMailer, operation_id_for
from backup_events.domain.model import EmailMessage
from backup_events.errors import ConfigurationError, DeliveryError
from tests.loopback.acs import AcsEmailStandIn
from tests.loopback.fixtures import FakeTokenCredential, serving

MailerFactory = Callable[..., AcsMailer]


@pytest.fixture
def acs() -> Iterator[AcsEmailStandIn]:
    """A running ACS Email stand-in in HMAC mode (one Running poll, then Succeeded)."""
    yield from serving(AcsEmailStandIn())


def make_message(key: str = "vault-1|job-1", subject: str = "[Backup failed] vm-app-02: Take Snapshot") -> EmailMessage:
    return EmailMessage(
        key=key,
        subject=subject,
        text="The backup of vm-app-02 failed.",
        html="<p>The backup of <b>vm-app-02</b> failed.</p>",
        sender="DoNotReply@contoso.azurecomm.net",
        recipients=("oncall@contoso.com", "backup-team@contoso.com"),
        headers={"x-priority": "1"},
    )


@pytest.fixture
def make_mailer() -> Iterator[MailerFactory]:
    """Builds mailers for a stand-in (HMAC by default, fast polling) and closes them after the test."""
    built: list[AcsMailer] = []

    def build(server: AcsEmailStandIn, **options: object) -> AcsMailer:
        settings: dict[str, object] = {
            "connection_string": server.connection_string,
            "connection_verify": server.ca_path,
            "confirm_seconds": 5.0,
            "poll_interval": 0.02,
            "retry_backoff_factor": 0.01,
        }
        settings.update(options)
        mailer = AcsMailer(**settings)  # type: ignore[arg-type]
        built.append(mailer)
        return mailer

    yield build
    for mailer in built:
        mailer.close()


def test_a_good_send_is_delivered_once_with_a_verified_hmac_and_returns_the_operation_id(
    acs: AcsEmailStandIn,
    make_mailer: MailerFactory,
) -> None:
    message = make_message()

    operation_id = make_mailer(acs).send(message)

    assert operation_id == operation_id_for(message)
    assert len(acs.delivered) == 1
    delivered = acs.delivered[0]
    assert delivered["operation_id"] == operation_id
    assert delivered["auth"] == "hmac"
    assert delivered["message"] == {
        "senderAddress": "DoNotReply@contoso.azurecomm.net",
        "recipients": {"to": [{"address": "oncall@contoso.com"}, {"address": "backup-team@contoso.com"}]},
        "content": {"subject": message.subject, "plainText": message.text, "html": message.html},
        "headers": {"x-priority": "1"},
        "userEngagementTrackingDisabled": True,
    }
    assert acs.wait_for_final_status(operation_id, timeout=0)  # confirmed before send returned


def test_a_wrong_access_key_gives_a_delivery_error_401_and_nothing_is_delivered(
    acs: AcsEmailStandIn,
    make_mailer: MailerFactory,
) -> None:
    wrong_key = base64.b64encode(b"not the key of this resource").decode()
    mailer = make_mailer(acs, connection_string=f"endpoint={acs.url}/;accesskey={wrong_key}")

    with pytest.raises(DeliveryError) as caught:
        mailer.send(make_message())

    assert "401" in str(caught.value)
    assert wrong_key not in str(caught.value)
    assert wrong_key not in repr(mailer)
    assert acs.delivered == []
    assert acs.send_attempts == 1


def test_a_throttled_send_gives_a_delivery_error_with_retry_after_without_waiting_it_out(
    acs: AcsEmailStandIn,
    make_mailer: MailerFactory,
) -> None:
    acs.throttle(3, retry_after=1)

    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        make_mailer(acs).send(make_message())

    assert caught.value.retry_after == 1.0
    assert "429" in str(caught.value)
    assert time.monotonic() - started < 0.9
    assert acs.send_attempts == 1
    assert acs.delivered == []


def test_an_operation_that_ends_failed_gives_a_delivery_error(
    acs: AcsEmailStandIn,
    make_mailer: MailerFactory,
) -> None:
    acs.fail_operation(1)
    message = make_message()

    with pytest.raises(DeliveryError) as caught:
        make_mailer(acs).send(message)

    assert "Failed" in str(caught.value)
    assert "EmailDroppedAllRecipientsSuppressed" in str(caught.value)
    assert operation_id_for(message) in str(caught.value)


def test_the_same_message_key_gives_the_same_operation_id(
    acs: AcsEmailStandIn,
    make_mailer: MailerFactory,
) -> None:
    mailer = make_mailer(acs)

    first = mailer.send(make_message("vault-1|job-1"))
    again = mailer.send(make_message("vault-1|job-1", subject="[Backup failed] resent"))
    other = mailer.send(make_message("vault-1|job-2"))

    assert first == again != other
    assert [r.headers.get("Operation-Id") for r in acs.requests if r.method == "POST"] == [first, first, other]


def test_bearer_token_mode_works_with_a_token_credential(make_mailer: MailerFactory) -> None:
    credential = FakeTokenCredential("acs-test-token")
    with AcsEmailStandIn(token="acs-test-token") as server:
        mailer = make_mailer(server, connection_string=None, endpoint=server.url, credential=credential)

        operation_id = mailer.send(make_message())

        assert [d["operation_id"] for d in server.delivered] == [operation_id]
        assert server.delivered[0]["auth"] == "bearer"
        assert ("https://communication.azure.com//.default",) in credential.scopes
        assert server.errors == []


def test_a_send_still_running_after_the_wait_is_accepted_and_returns_its_id(make_mailer: MailerFactory) -> None:
    with AcsEmailStandIn(running_polls=8) as server:  # 8 polls at 0.05 s outlast the 0.15 s wait
        message = make_message()
        started = time.monotonic()

        operation_id = make_mailer(server, confirm_seconds=0.15, poll_interval=0.05).send(message)
        waited = time.monotonic() - started

        assert operation_id == operation_id_for(message)
        assert 0.1 <= waited < 1.0
        assert len(server.delivered) == 1
        assert not server.wait_for_final_status(operation_id, timeout=0)  # it was still running at return
        # the SDK's poller thread carries on to the end; let it finish before the server goes away
        assert server.wait_for_final_status(operation_id, timeout=5)


def test_server_errors_on_send_are_retried_a_few_times_then_give_a_delivery_error(
    acs: AcsEmailStandIn,
    make_mailer: MailerFactory,
) -> None:
    acs.fail_sends(10, status=503)

    with pytest.raises(DeliveryError) as caught:
        make_mailer(acs, max_retries=2).send(make_message())

    assert "503" in str(caught.value)
    assert acs.send_attempts == 3
    assert acs.delivered == []


def test_a_malformed_connection_string_is_a_configuration_error_that_does_not_quote_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AcsMailer(connection_string="endpoint=;accesskey=SUPERSECRETKEY")

    assert "SUPERSECRETKEY" not in str(caught.value)
    assert caught.value.__cause__ is None


def test_delivered_asks_acs_by_the_message_key(acs: AcsEmailStandIn, make_mailer: MailerFactory) -> None:
    mailer = make_mailer(acs)
    sent = make_message("vault-1|delivered-check")
    assert mailer.delivered(sent) is False
    mailer.send(sent)
    assert mailer.delivered(sent) is True
    assert mailer.delivered(make_message("vault-1|another")) is False
