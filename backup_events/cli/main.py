"""Command line: ``python -m backup_events {demo,explain,replay,poll,test-email,catalog}``.

- ``demo``: the main job on embedded defaults (bundled sample jobs, Azurite ledger, ``./outbox``); no Azure account.
- ``explain PATH``: the email a job, a list of jobs or an alert would produce, without sending or recording anything.
- ``replay FILE…``: exported jobs (``az backup job list -o json``, REST pages) through the whole pipeline.

``demo``, ``explain`` and ``replay`` write the emails in ``--lang`` (``en``, ``ja``) with times in ``--tz`` (an IANA
name); by default ``BACKUP_MAIL_LANGUAGE`` and ``BACKUP_TIMEZONE``, else English in UTC.
- ``poll``: one run with the current settings (environment, or ``--settings local.settings.json``).
- ``test-email``: one marked synthetic notification through the configured mailer, to prove the path works.
- ``catalog`` / ``catalog check``: list the remediation catalog, or validate it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.services import EventEnvelope, RunReport, Services
from backup_events.domain import decide, remediation
from backup_events.domain.incidents import Policy
from backup_events.domain.model import LANGUAGES, EmailMessage
from backup_events.domain.routing import language_problem, zone_problem
from backup_events.errors import BackupEventsError, CatalogError, ConfigurationError, MalformedInputError, SourceError
from backup_events.mail import render
from backup_events.ports import JobSource
from backup_events.wire.jobs import normalise_job

DEMO_STATE = Path(".demo")


class _Addressing(TypedDict):
    sender: str
    recipients: tuple[str, ...]
    portal_url: str


EXAMPLE_ADDRESSING = _Addressing(
    sender="backup-events@example.com", recipients=("oncall@example.com",), portal_url="https://portal.azure.com"
)


def reading(args: argparse.Namespace) -> dict[str, str]:
    """The readers' language and time zone as settings: ``--lang``/``--tz``, else the environment's, else en/UTC."""
    import os  # noqa: PLC0415

    language = args.lang or os.environ.get("BACKUP_MAIL_LANGUAGE", "").strip() or "en"
    zone = args.tz or os.environ.get("BACKUP_TIMEZONE", "").strip() or "UTC"
    if problem := language_problem(language) or zone_problem(zone):
        raise ConfigurationError([f"{problem} (--lang / BACKUP_MAIL_LANGUAGE, --tz / BACKUP_TIMEZONE)"])
    return {"BACKUP_MAIL_LANGUAGE": language, "BACKUP_TIMEZONE": zone}


def print_report(report: RunReport, title: str) -> None:
    """The short summary table."""
    width = max(len(name) for name, _ in report.rows())
    print(title)
    for name, count in report.rows():
        print(f"  {name:<{width}}  {count:>5}")
    for problem in report.problems:
        print(f"  ! {problem}")


def run_demo(args: argparse.Namespace) -> int:
    from backup_events.dev import demo  # noqa: PLC0415

    outbox: Path = args.outbox
    if args.story:
        steps = demo.story(args.state / "story", outbox, show=print_step, **reading(args))
        total = sum(r.emails_sent for _, r in steps)
        jobs = sum(r.opened + r.repeats for _, r in steps)
        print(f"\n{total} emails in {outbox}/ for {jobs} failed jobs and 1 missed backup, over two days.")
        return 0
    report = demo.run(args.state, outbox, reset=args.reset, **reading(args))
    print_report(report, f"backup-events demo: sample jobs -> Azurite ledger -> {outbox}/")
    if report.emails_sent:
        print(f"\nOpen {outbox}/*.eml in a mail client, or {outbox}/*.html in a browser.")
    elif report.duplicates:
        print("\nEvery failure was told already (run with --reset to start over, or --story for two days in a minute).")
    return 0 if not report.problems else 1


def print_step(title: str, report: RunReport) -> None:
    """One line of the story: what the poll saw and which emails it wrote."""
    kinds = [
        f"{report.emails_sent - report.reminders_sent - report.recovery_emails - report.digests} opened",
        f"{report.reminders_sent} reminders",
        f"{report.recovery_emails} recovered",
        f"{report.digests} digests",
    ]
    print(
        f"{title}\n    failures {report.failures}, new incidents {report.opened}, repeats {report.repeats}, "
        f"missed {report.missed} -> emails {report.emails_sent} ({', '.join(kinds)})"
    )


def _load_json(path: str) -> Any:
    from backup_events.wire.exported import read_json  # noqa: PLC0415

    return read_json(Path(path))


class _Kept:
    """A mailer that keeps what it is handed: ``explain`` shows the email the pipeline writes, and sends nothing."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> str:
        self.messages.append(message)
        return "explained"

    def delivered(self, message: EmailMessage) -> bool | None:
        return False


class _NoApi(SampleJobSource):
    """The jobs source of an explained alert: no API to read its job from, as when the jobs API is down."""

    def job_details(self, job_id: str) -> Mapping[str, Any]:
        raise SourceError("explain reads no API")


def _dry_run(source: JobSource, vault_id: str, run: Callable[[Services], str], language: str, zone: str) -> EmailMessage | str:
    """What the real use case ``run`` writes, over a fresh in-memory store and a mailer that keeps the email."""
    from backup_events.adapters.memory_store import MemoryIncidentStore  # noqa: PLC0415

    now = datetime.now(UTC)
    mailer = _Kept()
    services = Services.of(
        source=source,
        incidents=MemoryIncidentStore(clock=lambda: now),
        mailer=mailer,
        catalog=remediation.load(),
        clock=lambda: now,
        lookback=timedelta(days=100 * 365),  # the job's own date, whatever it is
        policy=Policy(digest_threshold=1_000_000, emails_per_run=1_000_000),
        missed_grace=None,
        vault_ids=(vault_id,),
        language=language,
        zone=zone,
        **EXAMPLE_ADDRESSING,
    )
    outcome = run(services)
    return mailer.messages[0] if mailer.messages else outcome.removeprefix("no email: ")


def explained(document: Any, path: str, language: str = "en", zone: str = "UTC") -> EmailMessage | str:
    """The email a document would produce (through the same use cases as the triggers), or the reason there is none,
    in ``language`` with times in ``zone``."""
    from backup_events.app import alert_path, poll  # noqa: PLC0415
    from backup_events.wire import alerts, exported  # noqa: PLC0415

    document = alerts.unwrap_event(document)
    if isinstance(document, Mapping) and "schemaId" in document:
        alert = alerts.parse_alert(document)  # a malformed alert is one clear line, exit 2
        envelope = EventEnvelope("explain", "BackupEvents.AzureMonitorAlert.Fired", document)
        return _dry_run(
            _NoApi([]), alert.vault_id, lambda services: alert_path.handle_alert_event(services, envelope), language, zone
        )
    if isinstance(document, Mapping) and exported.kind_of(document) == "item":
        return _item_line(document)
    if isinstance(document, Mapping) and "properties" in document:
        job = normalise_job(document)
        decision = decide.decide(job)
        if not decision.tell:
            return decision.reason
        return _dry_run(
            SampleJobSource([document]),
            job.vault_id,
            lambda services: str(poll.poll_jobs(services).problems),
            language,
            zone,
        )
    raise MalformedInputError(
        f"{path} is neither a backup job (a JobResource with id, name and properties) nor a Backup alert "
        "(common alert schema, bare or inside an Event Grid event or CloudEvent)",
        field="properties",
    )


def _item_line(document: Mapping[str, Any]) -> str:
    from backup_events.domain.ids import vault_of  # noqa: PLC0415
    from backup_events.wire.items import protected_item_of  # noqa: PLC0415

    item = protected_item_of(document, vault_of(str(document["id"])) or "")
    last = f"{item.last_recovery_point:%Y-%m-%d %H:%M} UTC" if item.last_recovery_point else "none yet"
    return (
        f"protected item {item.item} ({item.workload}, last recovery point {last}) is read for exposure, recovery "
        "and missed backups, never told on its own"
    )


def run_explain(args: argparse.Namespace) -> int:
    # The use cases log what they would tell an operator of a run ("jobs API unreadable…"); explain has no run.
    package = logging.getLogger("backup_events")
    level, package.level = package.level, logging.ERROR
    try:
        return _explain(args)
    finally:
        package.setLevel(level)


def _explain(args: argparse.Namespace) -> int:
    from backup_events.wire import exported  # noqa: PLC0415
    from backup_events.wire.alerts import unwrap_event  # noqa: PLC0415

    document = unwrap_event(_load_json(args.path))
    read = reading(args)
    language, zone = read["BACKUP_MAIL_LANGUAGE"], read["BACKUP_TIMEZONE"]
    listed = isinstance(document, list) or (isinstance(document, Mapping) and isinstance(document.get("value"), list))
    if not listed:
        _print_explained(explained(document, args.path, language, zone), html=args.html)
        return 0
    resources = list(exported.resources_in(document))
    jobs = [r for r in resources if exported.kind_of(r) in ("job", "item")]
    if not jobs:
        raise MalformedInputError(
            f"{args.path} is neither a backup job nor a list of them: it lists {len(resources)} resource(s) and no job"
        )
    for index, job in enumerate(jobs, 1):
        print(f"=== {index}/{len(jobs)} {exported.kind_of(job)} {job.get('name') or job.get('id')}")
        _print_explained(explained(job, args.path, language, zone), html=args.html)
        print()
    return 0


def _print_explained(result: EmailMessage | str, *, html: bool) -> None:
    if isinstance(result, str):
        print(f"No email: {result}.")
        return
    print(f"Subject: {result.subject}")
    print()
    print(result.html if html else result.text, end="")


def run_replay(args: argparse.Namespace) -> int:
    from datetime import timedelta  # noqa: PLC0415

    from backup_events.cli import replay  # noqa: PLC0415

    result = replay.replay(list(args.files), args.outbox, interval=timedelta(minutes=args.interval), **reading(args))
    r = result.report
    span = f"{result.first:%Y-%m-%d %H:%M} to {result.last:%Y-%m-%d %H:%M} UTC" if result.first and result.last else "no jobs"
    rows = [
        ("vaults", result.vaults),
        ("jobs", result.jobs),
        ("protected items", result.items),
        ("polls", result.polls),
        ("failed jobs", result.failed),
        ("new incidents", r.opened),
        ("repeats (counted)", r.repeats),
        ("recovered", r.recovered),
        ("emails written", r.emails_sent),
        ("  of which reminders", r.reminders_sent),
        ("  of which recovered", r.recovery_emails),
        ("  of which digests", r.digests),
    ]
    print(f"backup-events replay: {len(args.files)} file(s), {span}, every {args.interval} min -> {args.outbox}/")
    for name, value in rows:
        print(f"  {name:<22}  {value:>5}")
    for problem in r.problems:
        print(f"  ! {problem}")
    return 0 if not r.problems else 1


def _local_settings(path: Path | None) -> Mapping[str, str]:
    import os  # noqa: PLC0415

    if path is None:
        return os.environ
    values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    return {**os.environ, **{k: str(v) for k, v in values.items()}}


def run_poll(args: argparse.Namespace) -> int:
    from backup_events import bootstrap  # noqa: PLC0415
    from backup_events.app import poll  # noqa: PLC0415
    from backup_events.settings import Settings  # noqa: PLC0415

    report = poll.poll_jobs(bootstrap.build(Settings.from_environ(_local_settings(args.settings))))
    print_report(report, "backup-events poll")
    return 0 if not (report.problems or report.vaults_skipped) else 1


def test_message(settings: Any, now: datetime | None = None) -> EmailMessage:
    """The test email: "TEST — nothing has failed", the path it proves, and a sample failure below a divider."""
    from backup_events.adapters.sample_jobs import bundled_jobs  # noqa: PLC0415

    reader = render.Reader(settings.mail_language, settings.timezone)
    job = normalise_job(bundled_jobs()[0])
    diagnosis = remediation.load().diagnose(job.errors)
    facts = render.facts_of(job, diagnosis, portal_url=settings.portal_url, reader=reader)
    words = facts.words
    sample = render.Sample(render.subject_of(facts), words.cause if words else "", words.steps[0] if words else "")
    return render.render_test(
        proved_path(settings, reader.language),
        sample,
        key=f"test-email|{uuid.uuid4()}",
        now=now or datetime.now(UTC),
        sender=settings.mail_sender,
        recipients=settings.mail_recipients,
        reader=reader,
    )


CONNECTION_STRING = render.N_("connection string")


def proved_path(settings: Any, language: str = "en") -> list[tuple[str, str]]:
    """What a test email that arrives proves: the mailer, the sender, the recipients, and the settings behind them."""
    _ = render.gettext_of(language)
    if settings.mailer == "acs":
        mailer = f"Azure Communication Services, {settings.acs_endpoint or _(CONNECTION_STRING)}"
    else:
        mailer = _("outbox folder %(folder)s") % {"folder": settings.outbox_dir}
    count = len(settings.mail_recipients)
    watched = _("%(vaults)d vault id(s), %(subscriptions)d subscription(s) discovered") % {
        "vaults": len(settings.vault_ids),
        "subscriptions": len(settings.subscription_ids),
    }
    return [
        (_("Mailer"), mailer),
        (_("Sender"), settings.mail_sender),
        (_("Recipients"), f"{count}: {', '.join(settings.mail_recipients)}"),
        (_("Schedule"), f"{settings.poll_schedule} (NCRONTAB)"),
        (_("Watching"), watched),
        (_("Digest"), _("more than %(num)d new failures in a run become one email") % {"num": settings.digest_threshold}),
    ]


def run_test_email(args: argparse.Namespace) -> int:
    from backup_events import bootstrap  # noqa: PLC0415
    from backup_events.settings import Settings  # noqa: PLC0415

    settings = Settings.from_environ(_local_settings(args.settings))
    message = test_message(settings)
    mailer = bootstrap.mailer(settings, lambda: bootstrap.credential(settings), bootstrap.utc_now)
    delivery_id = mailer.send(message)
    # Recipients are personal data: say how many, not who.
    print(f"test email sent through {settings.mailer} to {len(message.recipients)} recipient(s): {delivery_id}")
    return 0


def run_catalog(args: argparse.Namespace) -> int:
    text = Path(args.file).read_text(encoding="utf-8") if args.file else remediation.catalog_text()
    # The bundled catalog is checked in every language; a --file alone is checked in English, or with --ja.
    translations = remediation.translation_texts() if not args.file else {}
    if args.ja:
        translations["ja"] = Path(args.ja).read_text(encoding="utf-8")
    catalog = remediation.parse(text, translations)
    if args.action == "check":
        code_count = sum(len(e.codes) for e in catalog.entries)
        print(
            f"catalog OK: {len(catalog.entries)} entries in {', '.join(['en', *translations])}, {code_count} codes, "
            f"{len(catalog.by_number)} numbers, {len(catalog.patterns)} message patterns"
        )
        return 0
    for entry in catalog.entries:
        codes = ", ".join(entry.codes + tuple(str(n) for n in entry.numbers)) or "(message only)"
        print(f"{entry.key}\n    {entry.phase} · {entry.severity} · {', '.join(entry.workloads)}\n    {codes}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line."""
    cli = argparse.ArgumentParser(prog="python -m backup_events", description=__doc__.splitlines()[0])
    commands = cli.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the pipeline on bundled samples with Azurite and ./outbox")
    demo.add_argument("--outbox", type=Path, default=Path("outbox"), help="where emails are written (default ./outbox)")
    demo.add_argument("--state", type=Path, default=DEMO_STATE, help="where the demo keeps Azurite's data")
    demo.add_argument("--reset", action="store_true", help="forget what earlier demo runs told")
    demo.add_argument("--story", action="store_true", help="two days in a minute: repeats, reminders, recovery, a digest")
    _reading_options(demo)
    demo.set_defaults(run=run_demo)
    explain = commands.add_parser("explain", help="print the email a job, a list of jobs or an alert would produce")
    explain.add_argument(
        "path", help="a job (JobResource), a list of jobs (az backup job list -o json, a REST page) or an alert, as JSON"
    )
    explain.add_argument("--html", action="store_true", help="print the HTML body instead of the plain text")
    _reading_options(explain)
    explain.set_defaults(run=run_explain)
    replay = commands.add_parser("replay", help="play exported jobs through the pipeline on their own clock; emails to --outbox")
    replay.add_argument(
        "files", nargs="+", type=Path, help="az backup job list / item list -o json output, REST list pages, single jobs"
    )
    replay.add_argument("--outbox", type=Path, default=Path("outbox"), help="where emails are written (default ./outbox)")
    replay.add_argument("--interval", type=int, default=15, help="minutes between two polls (default 15)")
    _reading_options(replay)
    replay.set_defaults(run=run_replay)
    poll = commands.add_parser("poll", help="one run with the current settings")
    poll.add_argument("--settings", type=Path, help="read Values from a local.settings.json on top of the environment")
    poll.set_defaults(run=run_poll)
    test_email = commands.add_parser("test-email", help="send one marked synthetic notification to the recipients")
    test_email.add_argument("--settings", type=Path, help="read Values from a local.settings.json on top of the environment")
    test_email.set_defaults(run=run_test_email)
    catalog = commands.add_parser("catalog", help="list the remediation catalog, or `catalog check` it")
    catalog.add_argument("action", nargs="?", choices=("list", "check"), default="list")
    catalog.add_argument("--file", help="check this TOML file instead of the bundled catalog (in English unless --ja)")
    catalog.add_argument("--ja", help="check this Japanese TOML file instead of the bundled catalog.ja.toml")
    catalog.set_defaults(run=run_catalog)
    return cli


def _reading_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--lang", choices=LANGUAGES, help="the emails' language (default: BACKUP_MAIL_LANGUAGE, else en)")
    command.add_argument("--tz", help="IANA time zone of the times shown, e.g. Asia/Tokyo (default: BACKUP_TIMEZONE, else UTC)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors we expect print one clear line (no traceback) and exit 2 (1 for a bad catalog)."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.run(args)
        return code
    except BackupEventsError as exc:  # settings, catalog, Azurite not installed, ...: see backup_events.errors
        label = "configuration" if isinstance(exc, ConfigurationError) else args.command
        print(f"{label}: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, CatalogError) else 2


if __name__ == "__main__":
    sys.exit(main())
