"""Alert latency: built-in alert in, email in the outbox out, through the near-real-time path, in one process.

For each of N distinct alerts (each about a different failed job of a different item, so each owes an email):

1. ``relay.relay_alert`` with an ``EventGridPublisher`` publishing to the Event Grid topic stand-in (HTTPS);
2. the CloudEvent the topic accepted is handed to ``alert_path.handle_alert_event`` (what the Event Grid trigger does),
   which reads the job's details from the ARM stand-in (HTTPS), records it in Azurite and writes the email to the
   outbox.

The latency of one alert is the wall time from (1) to the end of (2). Event Grid's own delivery delay (seconds in
Azure) is not part of it: there is no Event Grid here. One warm-up alert goes first, outside the figures.

    python -m bench.alert_latency [--alerts 1000 --vaults 10]

Figures land in ``bench/results/alert_latency.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from backup_events import bootstrap
from backup_events.adapters.arm_jobs import RecoveryServicesJobSource
from backup_events.adapters.eventgrid_publisher import EventGridPublisher
from backup_events.app import alert_path, relay
from backup_events.app.services import EventEnvelope
from backup_events.dev import local_azurite
from backup_events.settings import Settings
from bench.throughput import (
    NOW,
    ROOT,
    StaticToken,
    item_names,
    machine,
    markdown_table,
    no_delay,
    outbox_emails,
    peak_rss_mb,
    settings_environ,
    varied_jobs,
    vault_id,
    write_results,
)
from tests.loopback.arm import ArmStandIn
from tests.loopback.eventgrid import EventGridTopicStandIn


def alert_for(job: dict[str, Any], item: str) -> dict[str, Any]:
    """The built-in alert Azure raises for a failed job: the vault id lower-cased, the job's name, no code field."""
    alert: dict[str, Any] = copy.deepcopy(json.loads((ROOT / "tests" / "data" / "alert-vm-backup-failure.json").read_text()))
    essentials, context = alert["data"]["essentials"], alert["data"]["alertContext"]
    vid = job["id"].rsplit("/backupJobs/", 1)[0].lower()
    alert_guid = str(uuid.uuid5(uuid.NAMESPACE_URL, job["id"]))
    essentials["alertId"] = f"/subscriptions/{vid.split('/')[2]}/providers/Microsoft.AlertsManagement/alerts/{alert_guid}"
    essentials["alertTargetIDs"] = [vid]
    essentials["configurationItems"] = [vid.rsplit("/", 1)[-1]]
    essentials["description"] = job["properties"]["errorDetails"][0].get("errorString", "Backup failed")
    context["linkedResourceName"] = item
    context["extendedInfo"]["jobId"] = job["name"]
    return alert


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (inclusive method), in ms."""
    return round(1000 * statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--vaults", type=int, default=10)
    args = parser.parse_args(argv)
    facts = machine()

    per_vault = -(-args.alerts // args.vaults)
    jobs = varied_jobs(args.vaults, per_vault, prefix="a")[: args.alerts]
    names = item_names(jobs)
    warm_job = varied_jobs(1, 1, prefix="w")[0]
    alerts = [alert_for(job, name) for job, name in zip(jobs, names, strict=True)]
    relay_s: list[float] = []
    handle_s: list[float] = []
    total_s: list[float] = []
    with (
        local_azurite.running() as connection,
        ArmStandIn(page_size=100) as arm,
        EventGridTopicStandIn(token="eventgrid-token") as topic,
        tempfile.TemporaryDirectory(prefix="bench-alerts-") as folder,
    ):
        no_delay(arm)
        no_delay(topic)
        for job in [warm_job, *jobs]:
            arm.add_job(job)
        outbox = Path(folder)
        settings = Settings.from_environ(settings_environ(connection, f"lat{uuid.uuid4().hex[:12]}", outbox, roomy=10))
        source = RecoveryServicesJobSource(
            credential=StaticToken(arm.token),  # type: ignore[arg-type]
            vault_ids=[vault_id(v, "a") for v in range(args.vaults)],
            arm_endpoint=arm.url,
            connection_verify=arm.ca_path,
        )
        services = bootstrap.build(settings, clock=lambda: NOW + timedelta(minutes=5), source=source)
        publisher = EventGridPublisher(
            endpoint=topic.endpoint, credential=StaticToken(topic.token), connection_verify=topic.ca_path
        )

        def one(alert: dict[str, Any]) -> tuple[float, float]:
            body = json.dumps(alert).encode()
            started = time.perf_counter()
            answer = relay.relay_alert(publisher, body)
            relayed = time.perf_counter()
            assert answer.status == 202, answer
            event = topic.events[-1]
            outcome = alert_path.handle_alert_event(services, EventEnvelope(event["id"], event["type"], event["data"]))
            assert outcome == "told", outcome
            return relayed - started, time.perf_counter() - relayed

        one(alert_for(warm_job, item_names([warm_job])[0]))
        for alert in alerts:
            relayed, handled = one(alert)
            relay_s.append(relayed)
            handle_s.append(handled)
            total_s.append(relayed + handled)
        source.close()
        emails = outbox_emails(outbox)
        told = "\n".join(subject + "\n" + text for subject, text in emails)
        lost = sum(1 for name in names if name not in told)
        assert not arm.errors and not topic.errors, (arm.errors, topic.errors)

    figures: dict[str, Any] = {
        "machine": facts,
        "alerts": len(alerts),
        "vaults": args.vaults,
        "emails": len(emails) - 1,  # minus the warm-up
        "lost": lost,
        "end_to_end_ms": {"p50": percentile(total_s, 50), "p99": percentile(total_s, 99), "max": round(1000 * max(total_s), 2)},
        "relay_ms": {"p50": percentile(relay_s, 50), "p99": percentile(relay_s, 99)},
        "handle_ms": {"p50": percentile(handle_s, 50), "p99": percentile(handle_s, 99)},
        "peak_rss_mb": peak_rss_mb(),
        "note": "in-process; no Event Grid delivery delay; stand-ins with TCP_NODELAY",
    }
    path = write_results("alert_latency", figures)
    rows = [
        ["relay -> topic (HTTPS)", figures["relay_ms"]["p50"], figures["relay_ms"]["p99"]],
        ["event -> email (jobs API GET, ledger, outbox)", figures["handle_ms"]["p50"], figures["handle_ms"]["p99"]],
        ["end to end", figures["end_to_end_ms"]["p50"], figures["end_to_end_ms"]["p99"]],
    ]
    print(markdown_table(["stage", "p50 ms", "p99 ms"], rows))
    print(f"\n{len(alerts)} alerts, {figures['emails']} emails, {lost} lost; figures: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
