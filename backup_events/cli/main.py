"""Command line of backup-events: python -m backup_events COMMAND.

Commands:
  demo        the whole pipeline on the bundled samples: Azurite ledger, emails in ./outbox; no Azure account
  explain     the email a job, a list of jobs or a built-in alert would produce; sends and records nothing
  replay      exported jobs (az backup job list -o json, REST pages) through the whole pipeline, on their own clock
  poll        one run with the current settings (the environment, or --settings local.settings.json)
  summary     the daily summary of the last 24 hours, now, through the configured mailer
  test-email  one marked synthetic notification through the configured mailer, to prove the path works
  doctor      check each part a run needs (settings, sign-in, vaults, ledger, mailer, relay); changes nothing
  catalog     list the remediation catalog, or check it (catalog check [--file FILE])

demo, explain and replay write the emails in --lang (en, ja) with times in --tz (an IANA name); by default
BACKUP_MAIL_LANGUAGE and BACKUP_TIMEZONE, else English in UTC.

Exit codes: 0 done; 1 the run could not do its work (a service refused or was unreachable, no sign-in, a failing
check); 2 bad input or settings. Errors are a few lines naming the fix; --debug adds the traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
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
from backup_events.domain.words import counted
from backup_events.errors import ConfigurationError, MalformedInputError, SourceError
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
        outbox = outbox / "story"  # its own folder: the story's emails never mix with (or overwrite) the demo's
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
    pages = ("value", "data")  # a REST list page; a Resource Graph answer
    listed = isinstance(document, list) or (
        isinstance(document, Mapping) and "properties" not in document and any(isinstance(document.get(k), list) for k in pages)
    )
    if not listed:
        _print_explained(explained(document, args.path, language, zone), html=args.html)
        return 0
    resources = list(exported.resources_in(document))
    jobs = [r for r in resources if exported.kind_of(r) in ("job", "item")]
    if not jobs:
        raise MalformedInputError(
            f"{args.path} is neither a backup job nor a list of them: it lists {counted(len(resources), 'resource')} and no job"
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
        ("daily summaries", len(result.summaries)),
    ]
    print(f"backup-events replay: {counted(len(args.files), 'file')}, {span}, every {args.interval} min -> {args.outbox}/")
    for name, value in rows:
        print(f"  {name:<22}  {value:>5}")
    for problem in r.problems:
        print(f"  ! {problem}")
    return 0 if not r.problems else 1


def _local_settings(path: Path | None) -> Mapping[str, str]:
    """The environment, with the ``Values`` of a local.settings.json on top when ``--settings`` names one."""
    import os  # noqa: PLC0415

    from backup_events.wire.exported import read_json  # noqa: PLC0415

    if path is None:
        return os.environ
    if path.is_dir():
        raise MalformedInputError(f"--settings {path}: is a folder; name the file, e.g. {path / 'local.settings.json'}")
    if not path.is_file():
        raise MalformedInputError(f"--settings {path}: no such file; start from the sample: cp local.settings.sample.json {path}")
    try:
        document = read_json(path)
    except MalformedInputError as exc:
        raise MalformedInputError(f"--settings {exc}; fix it, or start again from local.settings.sample.json") from None
    values = document.get("Values") if isinstance(document, Mapping) else None
    if not isinstance(values, Mapping):
        raise MalformedInputError(
            f'--settings {path}: has no "Values" object; a local.settings.json looks like '
            '{"IsEncrypted": false, "Values": {"BACKUP_MAILER": "outbox"}}'
        )
    if document.get("IsEncrypted") is True:
        raise MalformedInputError(f"--settings {path}: is encrypted; decrypt it first with `func settings decrypt`")
    return {**os.environ, **{str(k): "" if v is None else str(v) for k, v in values.items()}}


def _signed_in(settings: Any, parts: Any) -> Any:
    """The run's one credential, proved before any work (None when the settings need no sign-in)."""
    from backup_events import bootstrap  # noqa: PLC0415

    signed = bootstrap.sign_in(settings, parts)
    return signed[0] if signed else None


def run_poll(args: argparse.Namespace) -> int:
    from backup_events import bootstrap  # noqa: PLC0415
    from backup_events.app import poll  # noqa: PLC0415
    from backup_events.cli import doctor  # noqa: PLC0415
    from backup_events.settings import POLL, Settings  # noqa: PLC0415

    settings = Settings.from_environ(_local_settings(args.settings), POLL)
    credential = _signed_in(settings, POLL)  # no sign-in: one line and nothing done
    doctor.require_ledger(settings, credential)  # the ledger unreachable: one line and nothing done
    report = poll.poll_jobs(bootstrap.build(settings, signed_in=credential))
    print_report(report, "backup-events poll")
    return 0 if not (report.problems or report.vaults_skipped) else 1


def run_summary(args: argparse.Namespace) -> int:
    from backup_events import bootstrap  # noqa: PLC0415
    from backup_events.app import summary  # noqa: PLC0415
    from backup_events.settings import Settings  # noqa: PLC0415

    report = summary.send_summary(bootstrap.build(Settings.from_environ(_local_settings(args.settings))))
    for subject in report.subjects:
        print(subject)
    print(f"backup-events summary: {report.sent} sent, {report.already} sent before, {report.groups} recipient group(s)")
    for problem in report.problems:
        print(f"  ! {problem}")
    return 0 if not report.problems else 1


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
    from backup_events.settings import TEST_EMAIL, Settings  # noqa: PLC0415

    settings = Settings.from_environ(_local_settings(args.settings), TEST_EMAIL)
    credential = _signed_in(settings, TEST_EMAIL)  # only for ACS by endpoint; a failure here never reached ACS
    message = test_message(settings)
    mailer = bootstrap.mailer(settings, lambda: credential, bootstrap.utc_now)
    delivery_id = mailer.send(message)
    # Recipients are personal data: say how many, not who.
    print(f"test email sent through {settings.mailer} to {counted(len(message.recipients), 'recipient')}: {delivery_id}")
    return 0


def _catalog(path: str | None, japanese: str | None = None) -> tuple[remediation.Catalog, list[str]]:
    """The bundled catalog in every language, or the TOML file at ``path`` (in English, or with the Japanese file
    ``japanese``), and the languages checked; a file that is not TOML is bad input (exit 2)."""
    import tomllib  # noqa: PLC0415

    from backup_events.wire.exported import read_text  # noqa: PLC0415

    translations = remediation.translation_texts() if path is None else {}
    if japanese is not None:
        translations["ja"] = read_text(Path(japanese))
    text = remediation.catalog_text() if path is None else read_text(Path(path))
    for name, given in ((path, text), (japanese, translations.get("ja"))):
        if name is not None and given is not None:
            try:
                tomllib.loads(given)
            except tomllib.TOMLDecodeError as exc:
                raise MalformedInputError(f"{name} is not valid TOML: {exc}; fix the line it names and check again") from None
    return remediation.parse(text, translations), ["en", *translations]


def run_catalog(args: argparse.Namespace) -> int:
    catalog, languages = _catalog(args.file, args.ja)
    if args.action == "check":
        code_count = sum(len(e.codes) for e in catalog.entries)
        print(
            f"catalog OK: {len(catalog.entries)} entries in {', '.join(languages)}, {code_count} codes, "
            f"{len(catalog.by_number)} numbers, {len(catalog.patterns)} message patterns"
        )
        return 0
    for entry in catalog.entries:
        codes = ", ".join(entry.codes + tuple(str(n) for n in entry.numbers)) or "(message only)"
        print(f"{entry.key}\n    {entry.phase} · {entry.severity} · {', '.join(entry.workloads)}\n    {codes}")
    return 0


SETTINGS_HELP = "read the Values of a local.settings.json on top of the environment (UTF-8 or UTF-16)"


def parser() -> argparse.ArgumentParser:
    """The command line."""
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks and the Azure SDK's warnings (the credential chain's report)",
    )
    cli = argparse.ArgumentParser(
        prog="python -m backup_events",
        description=(__doc__ or "").split("\n\n", 1)[0],
        epilog=(__doc__ or "").split("\n\n", 2)[2].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_argument(
        "--debug", action="store_true", help="show tracebacks and the Azure SDK's warnings (the credential chain's report)"
    )
    commands = cli.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, parents=[debug])

    demo = command("demo", "run the pipeline on the bundled samples: Azurite ledger, emails in ./outbox; no Azure account")
    demo.add_argument("--outbox", type=Path, default=Path("outbox"), help="where emails are written (default ./outbox)")
    demo.add_argument("--state", type=Path, default=DEMO_STATE, help="where the demo keeps Azurite's data (default ./.demo)")
    demo.add_argument("--reset", action="store_true", help="forget what earlier demo runs told, and clear their emails")
    demo.add_argument(
        "--story", action="store_true", help="two days in a minute: repeats, reminders, recovery, a digest (in OUTBOX/story/)"
    )
    _reading_options(demo)
    demo.set_defaults(run=run_demo)
    explain = command("explain", "print the email a job, a list of jobs or a built-in alert would produce; sends nothing")
    explain.add_argument(
        "path",
        help="a job (JobResource), a list of jobs (az backup job list -o json, a REST page), protected items, or a "
        "built-in alert (bare, or inside an Event Grid event or CloudEvent), as JSON in UTF-8 or UTF-16",
    )
    explain.add_argument("--html", action="store_true", help="print the HTML body instead of the plain text")
    _reading_options(explain)
    explain.set_defaults(run=run_explain)
    replay = command("replay", "play exported jobs through the pipeline on their own clock; emails to --outbox")
    replay.add_argument(
        "files", nargs="+", type=Path, help="az backup job list / item list -o json output, REST list pages, single jobs"
    )
    replay.add_argument("--outbox", type=Path, default=Path("outbox"), help="where emails are written (default ./outbox)")
    replay.add_argument("--interval", type=_minutes, default=15, help="minutes between two polls (default 15)")
    _reading_options(replay)
    replay.set_defaults(run=run_replay)
    poll = command("poll", "one run with the current settings: read the vaults, record, send what is owed")
    poll.add_argument("--settings", type=Path, help=SETTINGS_HELP)
    poll.set_defaults(run=run_poll)
    summary = command("summary", "send the daily summary of the last 24 hours now, through the configured mailer")
    summary.add_argument("--settings", type=Path, help=SETTINGS_HELP)
    summary.set_defaults(run=run_summary)
    test_email = command("test-email", "send one marked synthetic notification to the recipients (needs the mailer only)")
    test_email.add_argument("--settings", type=Path, help=SETTINGS_HELP)
    test_email.set_defaults(run=run_test_email)
    doctor = command("doctor", "check each part a run needs and print a checklist; changes nothing, sends nothing")
    doctor.add_argument("--settings", type=Path, help=SETTINGS_HELP)
    doctor.add_argument("--send-test", action="store_true", help="also send the test email (proves the sender domain)")
    doctor.set_defaults(run=run_doctor)
    catalog = command("catalog", "list the remediation catalog, or check it")
    catalog.add_argument("action", nargs="?", choices=("list", "check"), default="list", help="list (default) or check")
    catalog.add_argument("--file", help="a catalog TOML file instead of the bundled one (checked in English unless --ja)")
    catalog.add_argument("--ja", help="a Japanese catalog TOML file instead of the bundled catalog.ja.toml")
    catalog.set_defaults(run=run_catalog)
    return cli


def _minutes(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1440:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of minutes, 1-1440")
    return int(text)


def run_doctor(args: argparse.Namespace) -> int:
    from backup_events.cli import doctor  # noqa: PLC0415

    return doctor.run(_local_settings(args.settings), send_test=args.send_test, show=print)


def _reading_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--lang", choices=LANGUAGES, help="the emails' language (default: BACKUP_MAIL_LANGUAGE, else en)")
    command.add_argument("--tz", help="IANA time zone of the times shown, e.g. Asia/Tokyo (default: BACKUP_TIMEZONE, else UTC)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. An error is a few lines on stderr naming the fix, and exit 1 or 2 (``cli.failures``)."""
    from backup_events.cli import failures  # noqa: PLC0415

    args = parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not debug:
        # The credential chain reports every attempt at WARNING, again on each token asked for: one line of ours says it.
        logging.getLogger("azure.identity").setLevel(logging.CRITICAL)
    try:
        code: int = args.run(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away (``| head``): what it wanted, it had. Point stdout at nothing so the exit is quiet.
        _quiet(sys.stdout)
        return failures.OK
    except KeyboardInterrupt:
        print(f"{args.command}: interrupted", file=sys.stderr)
        return failures.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - every error a user can meet ends as a few lines, never a traceback
        if debug:
            traceback.print_exc()
        message, code = failures.describe(exc, args.command)
        try:
            print(message, file=sys.stderr, flush=True)
        except BrokenPipeError:  # stderr went to a reader that left (``2>&1 | head``): the exit code still says it
            _quiet(sys.stdout)
            _quiet(sys.stderr)
        return code


def _quiet(stream: Any) -> None:
    """Point ``stream`` at nothing, so what is left in its buffer cannot fail the exit."""
    import os  # noqa: PLC0415

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError):
        pass  # not a real file (captured): nothing left to flush into
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
