"""Settings: one frozen dataclass read from MAILER_* environment variables (and .env)."""

from __future__ import annotations

import dataclasses
import difflib
import os
import secrets
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailer.core import i18n
from mailer.core.analytics_dsn import HELP as ANALYTICS_HELP
from mailer.core.analytics_dsn import parse_analytics_dsn
from mailer.core.errors import ConfigError
from mailer.core.subject_format import problem as subject_format_problem

PREFIX = "MAILER_"


def setting(
    default: object,
    help: str,
    *,
    secret: bool = False,
    choices: tuple[str, ...] | None = None,
    check: Callable[[object], str | None] | None = None,
) -> typing.Any:
    """Declare a field with its help line, so .env.example and `mailer config` stay complete."""
    meta = {"help": help, "secret": secret, "choices": choices, "check": check}
    if isinstance(default, list | dict):
        raise TypeError("use tuples for list settings")
    return field(default=default, metadata=meta)


def _positive(value: object) -> str | None:
    return None if isinstance(value, int | float) and value > 0 else "a number above 0"


def _not_negative(value: object) -> str | None:
    return None if isinstance(value, int | float) and value >= 0 else "a number of 0 or more"


def _http_url(value: object) -> str | None:
    parts = urlsplit(str(value))
    if parts.scheme in ("http", "https") and parts.netloc:
        return None
    return "an http(s) URL such as https://news.example.com"


def _languages(value: object) -> str | None:
    codes = tuple(value) if isinstance(value, tuple) else ()
    problems = [p for p in map(i18n.language_problem, codes) if p]
    if not codes or problems:
        return "language codes with a shipped catalogue" + (f" ({problems[0]})" if problems else "")
    return None


def _timezone(value: object) -> str | None:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        return "an IANA time zone name such as Europe/London"
    return None


def _email(value: object) -> str | None:
    text = str(value)
    address = text.rsplit("<", 1)[-1].rstrip(">").strip()
    if "@" in address and "\n" not in text and "\r" not in text:
        return None
    return "an address such as 'News <news@example.com>'"


def _optional_email(value: object) -> str | None:
    return None if not value else _email(value)


def _analytics(value: object) -> str | None:
    if not value:
        return None
    try:
        parse_analytics_dsn(str(value))
    except ValueError as exc:
        return f"{ANALYTICS_HELP} ({exc})"
    return None


def _database(value: object) -> str | None:
    if not value:
        return None
    scheme = urlsplit(str(value)).scheme
    if scheme.startswith("sqlite") or scheme.startswith("postgresql"):
        return None
    return "a sqlite:///path or postgresql://user:pass@host/db URL"


def _cron(value: object) -> str | None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(str(value))
    except ValueError:
        return "a five-field crontab expression such as '0 18 * * sun'"
    return None


def _topic_arns(value: object) -> str | None:
    arns = tuple(value) if isinstance(value, tuple) else ()
    if all(arn.startswith("arn:aws") and arn.count(":") == 5 for arn in arns):
        return None
    return "SNS topic ARNs such as arn:aws:sns:us-east-1:123456789012:ses-events"


def _hosts_ports(value: object) -> str | None:
    for entry in value if isinstance(value, tuple) else ():
        has_port = entry.count(":") == 1 or "]:" in entry
        host, port = entry.rsplit(":", 1) if has_port else (entry, "")
        if (
            not host.strip("[]")
            or any(c in host for c in "/ @")
            or (has_port and not port.isdigit())
        ):
            return "host or host:port entries such as feeds.intranet,10.0.0.5:8080,[fd00::1]:80"
    return None


def _rate_limits(value: object) -> str | None:
    for part in str(value).split(";"):
        count, _, unit = part.strip().partition("/")
        if not count.isdigit() or unit not in ("second", "minute", "hour", "day"):
            return "limits such as '5/minute;20/hour;100/day'"
    return None


def _at_least_30(value: object) -> str | None:
    return None if isinstance(value, int) and value >= 30 else "a number of days, 30 or more"


def _scrypt_cost(value: object) -> str | None:
    ok = isinstance(value, int) and 10 <= value <= 20
    return None if ok else "a power of two between 10 and 20 (17 is OWASP's scrypt N=2^17)"


@dataclass(frozen=True)
class Settings:
    """Everything an operator can set; each field is MAILER_<NAME> in the environment."""

    # --- foundation -------------------------------------------------------------------------
    env: str = setting(
        "development",
        "development or production; production refuses unsafe settings",
        choices=("development", "production"),
    )
    instance_dir: str = setting(
        "instance", "Folder for the SQLite file, the generated secret key and the file outbox"
    )
    database_url: str = setting(
        "",
        "SQLAlchemy URL; empty means sqlite:///<instance_dir>/mailer.db "
        "(PostgreSQL: postgresql://user:pass@host/db)",
        secret=True,
        check=_database,
    )
    secret_key: str = setting(
        "",
        "Signs sessions and links; required in production, generated once under "
        "instance_dir in development",
        secret=True,
    )
    base_url: str = setting(
        "http://127.0.0.1:5000",
        "Public address of this service, used in every link in mail",
        check=_http_url,
    )
    site_name: str = setting("The Daily Example", "The news site's name, shown on pages and mail")
    list_name: str = setting("The Weekly Digest", "The newsletter's name")
    list_frequency: str = setting("every Monday morning", "How often it comes, said at signup")
    from_addr: str = setting(
        "The Weekly Digest <digest@example.com>", "From: address of every message", check=_email
    )
    reply_to: str = setting("", "Reply-To: address (empty: none)", check=_optional_email)
    postal_address: str = setting(
        "",
        "The publisher's physical postal address, shown in every digest's footer (CAN-SPAM "
        "and several other laws ask bulk mail to carry one; the pre-send check warns when it "
        "is empty, and blocks the send in production)",
    )
    bounce_address: str = setting(
        "",
        "Envelope sender (Return-Path) of SMTP mail; route its mailbox to `mailer inbound` so "
        "bounce and complaint reports reach the ledger (empty: the From address)",
        check=_optional_email,
    )
    bounce_verp: bool = setting(
        False,
        "Give each digest message its own SMTP Return-Path, <local>+<signed token>@<domain> "
        "of MAILER_BOUNCE_ADDRESS, so `mailer inbound --recipient` matches a bounce to the "
        "reader by the address it came back to (the MTA needs recipient_delimiter = +)",
    )
    unsubscribe_address: str = setting(
        "",
        "Address offered as a mailto: beside the one-click link in List-Unsubscribe; route its "
        "mail to `mailer inbound` (empty: the header offers the one-click link alone)",
        check=_optional_email,
    )
    timezone: str = setting(
        "Europe/London", "The newsroom's time zone: weeks, schedules, dates", check=_timezone
    )
    languages: tuple[str, ...] = setting(
        ("en", "de"),
        "Languages readers may choose (comma-separated codes with a catalogue under "
        "mailer/translations/; English is built in): pages and mail follow the reader's choice",
        check=_languages,
    )
    default_language: str = setting(
        "en",
        "The language of a reader who chose none, of a browser asking for none of "
        "MAILER_LANGUAGES, and of readers who joined before languages existed",
    )
    transport: str = setting(
        "file://instance/outbox",
        "Where mail goes, as a DSN: file://DIR, console://, smtp://user:pass@host:587, "
        "smtps://…:465, sendgrid://KEY@default, mailgun://KEY:DOMAIN@default?region=eu, "
        "postmark://TOKEN@default, ses://KEY_ID:SECRET@default?region=us-east-1, "
        "resend://KEY@default",
        secret=True,
    )
    http_timeout: float = setting(
        10.0,
        "Seconds an outgoing call (CAPTCHA check, provider API, SNS, analytics) may take in "
        "all, connect and answer included",
        check=_positive,
    )
    log_level: str = setting("INFO", "Logging level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    host: str = setting("127.0.0.1", "Address `mailer serve` listens on (`make run` uses it too)")
    port: int = setting(5000, "Port `mailer serve` listens on; `make run PORT=5001` sets it too")

    # --- readers ----------------------------------------------------------------------------
    captcha: str = setting(
        "altcha",
        "CAPTCHA provider; none is refused outside development",
        choices=("altcha", "recaptcha-v2", "recaptcha-v3", "hcaptcha", "turnstile", "none"),
    )
    captcha_site_key: str = setting("", "The provider's public site key")
    captcha_secret: str = setting(
        "", "The provider's secret (ALTCHA: HMAC key; empty means secret_key)", secret=True
    )
    captcha_min_score: float = setting(
        0.5, "Lowest reCAPTCHA v3 score accepted (0 to 1)", check=_not_negative
    )
    captcha_verify_url: str = setting(
        "", "Override of the provider's siteverify URL (tests point it at a local server)"
    )
    check_deliverability: bool = setting(False, "Look up the address's domain in DNS at signup")
    embed_origins: tuple[str, ...] = setting(
        (), "Comma-separated origins allowed to frame /embed/join and call /api/subscribe"
    )
    ip_retention_days: int = setting(
        30, "Days an IP address is kept in consent records", check=_positive
    )
    signup_rate_limits: str = setting(
        "5/minute;20/hour;100/day", "Signups allowed per client IP", check=_rate_limits
    )
    ratelimit_storage_url: str = setting(
        "memory://",
        "Flask-Limiter storage: memory:// counts in each process (no timer thread), "
        "redis://… shares counts between processes and hosts",
    )
    trusted_proxy_hops: int = setting(
        0,
        "Reverse proxies in front of the app that append to X-Forwarded-For (0: none; then the "
        "connection's address is the client, and forwarded headers are ignored)",
        check=_not_negative,
    )
    altcha_max_number: int = setting(
        250_000,
        "ALTCHA proof-of-work: the largest secret number a challenge may hide (the browser "
        "tries half of it on average)",
        check=_positive,
    )
    unsubscribe_link_days: int = setting(
        60,
        "Days an unsubscribe or preferences link keeps working after the mail that carried it "
        "(at least 30: RFC 8058 and CAN-SPAM); older links offer fresh links by mail",
        check=_at_least_30,
    )
    confirm_hours: int = setting(72, "Hours a confirmation link stays valid", check=_positive)
    welcome_mail: bool = setting(
        True,
        "Send a welcome mail (templates/email/welcome/) when a reader confirms; false sends none",
    )

    # --- content ----------------------------------------------------------------------------
    sources: tuple[str, ...] = setting(
        (),
        "Comma-separated feed URLs (RSS/Atom) and WordPress sites (wp+https://site/wp-json)",
    )
    fetch_max_bytes: int = setting(
        5 * 1024 * 1024,
        "Largest feed or API response read from a source, in bytes",
        check=_positive,
    )
    source_deadline: float = setting(
        30.0,
        "Most seconds one source may take in all (address lookup, connect, redirects, every "
        "byte; a WordPress site's pages share it), however slowly its server answers",
        check=_positive,
    )
    source_allow_hosts: tuple[str, ...] = setting(
        (),
        "Comma-separated host or host:port that sources may reach although they resolve to a "
        "private, loopback or link-local address (a trusted intranet feed); every other such "
        "destination is refused, on every redirect too",
        check=_hosts_ports,
    )
    digest_top: int = setting(5, "Top stories in a digest", check=_positive)
    digest_related: int = setting(3, "Related items under each top story", check=_not_negative)
    digest_max_per_section: int = setting(2, "Most top stories from one section", check=_positive)
    digest_min_items: int = setting(
        3, "Fewest articles a week needs for a digest to be built", check=_positive
    )
    digest_subject: str = setting(
        "{headline}",
        "A new digest's subject (editors may change it): {headline} is the lead story's "
        "headline, {list_name} the newsletter's name (MAILER_LIST_NAME for the default "
        "one), {site_name} and {date} (the week's first day) the rest; "
        "the From name already says the list, and a phone shows about 38 characters",
        check=subject_format_problem,
    )
    site_hosts: tuple[str, ...] = setting(
        (),
        "Comma-separated hosts of the news site whose links get UTM parameters "
        "(empty: the hosts of the week's stories)",
    )
    related_window_days: int = setting(
        180, "How far back related coverage may reach", check=_positive
    )
    analytics: str = setting(
        "",
        "Where page views come from before each build, as a DSN: "
        "plausible://KEY@plausible.io/example.org, matomo://TOKEN@matomo.example.org/SITE_ID, "
        "ga4:///path/to/service-account.json?property=123456; each also takes "
        "timeout=SECONDS, pages=N and site=https://news.example.com options "
        "(empty: engagement only from `mailer articles stats import`)",
        secret=True,
        check=_analytics,
    )

    # --- delivery ---------------------------------------------------------------------------
    send_concurrency: int = setting(2, "Parallel sending workers", check=_positive)
    send_rate: float = setting(20.0, "Most messages per second over all workers", check=_positive)
    max_attempts: int = setting(5, "Tries per message before it counts as failed", check=_positive)
    retry_base_seconds: float = setting(
        60.0, "First retry delay; doubles each attempt, with jitter", check=_positive
    )
    lease_seconds: int = setting(
        300,
        "How long a worker holds claimed messages before a restart may take them back",
        check=_positive,
    )
    handoff_group: int = setting(
        10,
        "Messages an SMTP worker marks handed over in one database write; after a crash up to "
        "this many per worker end as `unknown`",
        check=_positive,
    )
    smtp_timeout: float = setting(30.0, "Seconds an SMTP command may take", check=_positive)
    pause_after_errors: int = setting(
        20, "Consecutive failures that pause a digest", check=_positive
    )
    precheck_spamassassin: str = setting(
        "auto",
        "SpamAssassin in the pre-send check: auto asks spamc (a running spamd) or else runs "
        "spamassassin, local tests only, when either is installed; off skips it",
        choices=("auto", "off"),
    )
    dkim_domain: str = setting("", "DKIM d= domain (empty: no signing)")
    dkim_selector: str = setting("", "DKIM selector for the RSA key")
    dkim_private_key: str = setting("", "Path to the RSA private key (PEM)", secret=True)
    dkim_ed25519_selector: str = setting("", "DKIM selector for the Ed25519 key")
    dkim_ed25519_key: str = setting(
        "", "Path to the Ed25519 private key (base64 seed)", secret=True
    )
    # Provider webhooks (POST /webhooks/PROVIDER); a provider whose setting is empty gets 404.
    sendgrid_webhook_key: str = setting(
        "",
        "SendGrid Event Webhook verification key (base64, from Mail Settings > Event Webhook "
        "> Signature Verification); a public key",
    )
    mailgun_webhook_key: str = setting(
        "", "Mailgun HTTP webhook signing key (Sending > Webhooks)", secret=True
    )
    postmark_webhook_user: str = setting(
        "", "User name put in the Postmark webhook URL's basic auth"
    )
    postmark_webhook_password: str = setting(
        "", "Password put in the Postmark webhook URL's basic auth", secret=True
    )
    resend_webhook_secret: str = setting("", "Resend webhook signing secret (whsec_…)", secret=True)
    ses_topic_arns: tuple[str, ...] = setting(
        (),
        "Comma-separated ARNs of the SNS topics SES publishes bounces/complaints to; "
        "messages from any other topic are refused",
        check=_topic_arns,
    )
    ses_cert_hosts: tuple[str, ...] = setting(
        ("sns.*.amazonaws.com",),
        "Hosts SNS SigningCertURL and SubscribeURL may use (* is one label); https only. "
        "Change only to point tests at a local server",
    )
    sns_max_age_seconds: int = setting(
        3600,
        "Oldest SNS message (by its signed Timestamp) accepted; newer than now plus "
        "MAILER_WEBHOOK_TOLERANCE is refused too",
        check=_positive,
    )
    webhook_event_days: int = setting(
        30,
        "Days provider events are kept for duplicate checks and soft-bounce counts; the daily "
        "job deletes older ones (far beyond every replay window)",
        check=_positive,
    )
    webhook_tolerance: int = setting(
        300, "Seconds a signed webhook timestamp may differ from now", check=_positive
    )
    soft_bounce_limit: int = setting(
        3, "Soft bounces after which an address is suppressed", check=_positive
    )
    guardrail_window: int = setting(
        10000,
        "Guardrails: a sending digest pauses when its complaint or hard-bounce rate over this "
        "many most recent settled deliveries passes a limit below (0: no guardrails)",
        check=_not_negative,
    )
    guardrail_min_sample: int = setting(
        1000,
        "Guardrails: deliveries settled (sent, failed or unknown, since the send started or "
        "was resumed) before a rate is judged, so one complaint among a few messages does not "
        "pause a send",
        check=_positive,
    )
    guardrail_complaint_percent: float = setting(
        0.1,
        "Guardrails: complaint rate in percent above which a send pauses (Gmail asks senders "
        "to stay under 0.1%)",
        check=_positive,
    )
    guardrail_bounce_percent: float = setting(
        3.0,
        "Guardrails: hard-bounce rate in percent (reports, and refusals at hand-off) above "
        "which a send pauses",
        check=_positive,
    )

    # --- clicks -----------------------------------------------------------------------------
    click_tracking: str = setting(
        "off",
        "Count clicks on a sent digest's links through a signed redirect (/r/...): off (links "
        "go straight to the site), aggregate (counts per story and day, nobody identified) or "
        "per_reader (also which subscriber clicked); never a tracking pixel",
        choices=("off", "aggregate", "per_reader"),
    )
    click_scanner_seconds: int = setting(
        10,
        "A click this many seconds or less after the reader's message was handed over is "
        "taken for a mail security scanner (when the moment is known: per_reader links and "
        "provider events)",
        check=_not_negative,
    )
    click_burst: int = setting(
        3,
        "This many links followed within one second by one client (IP and browser) make all "
        "of them a machine's clicks",
        check=_positive,
    )
    click_scanner_agents: tuple[str, ...] = setting(
        (),
        "Comma-separated extra user-agent words (case-blind) that mark a click as a machine's, "
        "beside the built-in list of scanners and HTTP libraries",
    )

    # --- sunsetting quiet readers (needs per_reader clicks) -----------------------------------
    sunset: bool = setting(
        False,
        "Mail readers who clicked nothing in MAILER_SUNSET_AFTER_ISSUES issues one re-engagement "
        "mail, then pause (never delete) those still quiet; needs "
        "MAILER_CLICK_TRACKING=per_reader, and only clicks count, never opens",
    )
    sunset_after_issues: int = setting(
        8,
        "Issues a reader was sent in a row with no click before the re-engagement mail",
        check=_positive,
    )
    sunset_grace_issues: int = setting(
        2,
        "Issues sent after the re-engagement mail with no click before the reader is paused",
        check=_positive,
    )

    # --- editors and operators --------------------------------------------------------------
    editor_emails: tuple[str, ...] = setting(
        (), "Comma-separated addresses told when a digest is built, held or skipped"
    )
    session_idle_minutes: int = setting(
        120, "Minutes without a page view after which an editor must sign in again", check=_positive
    )
    session_max_hours: int = setting(
        12, "Hours after signing in that an editor's session ends however busy", check=_positive
    )
    editor_password_cost: int = setting(
        17,
        "scrypt cost for editor passwords as a power of two (17: N=2^17, r=8, 128 MiB, "
        "OWASP's advice); older hashes are upgraded at the next sign-in",
        check=_scrypt_cost,
    )
    ingest_every: int = setting(60, "Minutes between source fetches", check=_positive)
    build_at: str = setting(
        "0 18 * * sun", "When the week's digest is built (crontab, site time zone)", check=_cron
    )
    send_at: str = setting(
        "0 7 * * mon", "When an approved digest starts sending (crontab)", check=_cron
    )
    auto_approve: bool = setting(
        False, "Send at send_at without approval unless an editor vetoed it"
    )
    outbox_poll_seconds: float = setting(
        5.0,
        "Seconds between the scheduler's looks at the outbox, so a reader's confirmation "
        "mail goes out within seconds, not at the next minute's tick",
        check=_positive,
    )

    # --- scale ------------------------------------------------------------------------------
    queue: str = setting(
        "none",
        "none (the scheduler sends) or procrastinate (PostgreSQL workers send)",
        choices=("none", "procrastinate"),
    )
    worker_job_seconds: float = setting(
        60.0,
        "With the queue: how long one worker job sends before handing on to a fresh job",
        check=_positive,
    )

    # --- derived ----------------------------------------------------------------------------
    @property
    def instance_path(self) -> Path:
        return Path(self.instance_dir).resolve()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.instance_path / 'mailer.db'}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read MAILER_* values, apply overrides, validate, and fill the generated secret."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = parse_value(f, raw)
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        if not settings.secret_key:
            settings = dataclasses.replace(settings, secret_key=_development_secret(settings))
        return settings

    def validate(self) -> None:
        """Raise ConfigError on the first value that cannot be parsed; what a value means for a
        provider or for production is checked at start-up, by the composition root."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            if meta["choices"] and value not in meta["choices"]:
                raise ConfigError(
                    f"{env_name(f.name)} is {value!r}; it accepts one of: "
                    + ", ".join(meta["choices"])
                    + "."
                )
            if meta["check"] and (expected := meta["check"](value)):
                raise ConfigError(f"{env_name(f.name)} is {value!r}; it accepts {expected}.")
        if self.default_language not in self.languages:
            raise ConfigError(
                f"MAILER_DEFAULT_LANGUAGE is {self.default_language!r}; it accepts one of "
                f"MAILER_LANGUAGES ({', '.join(self.languages)})."
            )

    def environ(self) -> dict[str, str]:
        """The MAILER_* variables that rebuild these settings, for a child process."""
        return {
            env_name(f.name): format_value(getattr(self, f.name)) for f in dataclasses.fields(self)
        }

    def public_items(self) -> list[tuple[str, str, str]]:
        """(variable, shown value, help) with secrets masked, for `mailer config`."""
        rows = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            shown = format_value(value)
            if f.metadata["secret"] and shown:
                shown = mask(f.name, shown)
            rows.append((env_name(f.name), shown, f.metadata["help"]))
        return rows


def env_name(name: str) -> str:
    return PREFIX + name.upper()


# Variables our own tooling reads (tests, benchmarks); they are not settings.
TOOLING_PREFIXES = ("MAILER_TEST_", "MAILER_BENCH_")


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(variable, sentence) for each MAILER_* variable that is no setting, so a typo is seen."""
    environ = os.environ if environ is None else environ
    known = [f.name.upper() for f in dataclasses.fields(Settings)]
    found = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name.startswith(TOOLING_PREFIXES):
            continue
        rest = name.removeprefix(PREFIX)
        if rest in known:
            continue
        nearest = difflib.get_close_matches(rest, known, n=1, cutoff=0.6)
        hint = f"; did you mean {PREFIX}{nearest[0]}?" if nearest else "; it is ignored."
        found.append((name, f"{name} is not a setting{hint}"))
    return found


def field_type(f: dataclasses.Field) -> object:
    hints = typing.get_type_hints(Settings)
    return hints[f.name]


def parse_value(f: dataclasses.Field, raw: str) -> object:
    """Turn one environment string into the field's type, or say what it accepts."""
    kind = field_type(f)
    raw = raw.strip()
    name = env_name(f.name)
    if kind is bool:
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{name} is {raw!r}; it accepts true or false.")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name} is {raw!r}; it accepts a whole number.") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{name} is {raw!r}; it accepts a number.") from None
    if typing.get_origin(kind) is tuple or isinstance(kind, types.GenericAlias):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def mask(name: str, shown: str) -> str:
    """Keep a URL's shape but hide its credentials; hide plain secrets entirely."""
    parts = urlsplit(shown)
    if parts.scheme and "://" in shown:
        if parts.password or parts.username:
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
            rest = shown.split(parts.netloc, 1)[1]
            return f"{parts.scheme}://***@{host}{port}{rest}"
        return shown
    return "***"


def render_env_example() -> str:
    """The text of .env.example: every setting with its help and default."""
    lines = [
        "# Settings for the newsletter mailer. Copy to .env and change what you need.",
        "# Every variable is optional in development; defaults are shown.",
        "# Regenerate with: mailer config --example > .env.example",
        "",
    ]
    for f in dataclasses.fields(Settings):
        lines.append(f"# {f.metadata['help']}")
        if f.metadata["choices"]:
            lines.append("# one of: " + ", ".join(f.metadata["choices"]))
        lines.append(f"{env_name(f.name)}={format_value(f.default)}")
        lines.append("")
    return "\n".join(lines)


def _development_secret(settings: Settings) -> str:
    """Generate the development key once and keep it, so sessions and links survive restarts."""
    if settings.is_production:
        raise ConfigError("MAILER_SECRET_KEY is required in production.")
    path = settings.instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(key)
    tmp.chmod(0o600)
    os.replace(tmp, path)
    return key
