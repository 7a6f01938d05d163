"""The business's settings: time zone, currency, VAT, how costs are shown, channel rules.

Read from a YAML file (``kassa.yaml`` beside the warehouse or ``--config``); every field has a default
that fits a Russian small business, so most users never write one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kassa.cron import Cron, CronError
from kassa.yamlfile import load_yaml_model


class VatRate(BaseModel):
    """A VAT rate in force from a date (inclusive) until the next entry's date."""

    model_config = ConfigDict(extra="forbid")
    since: dt.date
    rate: float = Field(ge=0, le=1)


class ChannelRule(BaseModel):
    """One rule of the channel classifier; conditions are ANDed, list items ORed, first match wins.

    Values are matched case-insensitively; ``"*"`` matches anything non-empty and ``""`` matches empty.
    """

    model_config = ConfigDict(extra="forbid")
    channel: str
    source: list[str] | None = None
    medium: list[str] | None = None
    click_id_prefix: list[str] | None = None
    referrer_contains: list[str] | None = None


# Why these defaults: the utm conventions of Yandex Direct, VK Ads, Google Ads and Meta templates, plus the
# auto-tagging click ids (yclid/gclid/fbclid) stored in visits.click_id as "yclid:123" or the raw value.
DEFAULT_CHANNEL_RULES: list[ChannelRule] = [
    ChannelRule(channel="yandex_direct", click_id_prefix=["yclid"]),
    ChannelRule(channel="google_ads", click_id_prefix=["gclid", "gbraid", "wbraid"]),
    ChannelRule(channel="meta_ads", click_id_prefix=["fbclid"]),
    ChannelRule(channel="vk_ads", click_id_prefix=["vkclid", "rb_clickid"]),
    ChannelRule(
        channel="yandex_direct",
        source=["yandex", "ya", "yandex.direct", "yandex_direct", "direct.yandex"],
        medium=["cpc", "ppc", "cpm", "paid", "cpa", "display"],
    ),
    ChannelRule(
        channel="vk_ads",
        source=["vk", "vkontakte", "vk_ads", "vk.com", "mytarget"],
        medium=["cpc", "ppc", "cpm", "paid", "cpa", "display"],
    ),
    ChannelRule(
        channel="google_ads",
        source=["google", "adwords", "google_ads"],
        medium=["cpc", "ppc", "paid", "cpm", "display"],
    ),
    ChannelRule(
        channel="meta_ads",
        source=["facebook", "fb", "instagram", "ig", "meta"],
        medium=["cpc", "ppc", "paid", "cpm", "paid_social"],
    ),
    ChannelRule(channel="seo", medium=["organic"]),
    ChannelRule(channel="telegram", source=["telegram", "tg", "t.me"]),
    ChannelRule(channel="email", medium=["email", "e-mail", "newsletter", "mail"]),
    ChannelRule(channel="referral", medium=["referral"]),
    ChannelRule(
        channel="seo",
        source=[""],
        medium=[""],
        referrer_contains=["yandex.", "google.", "bing.", "duckduckgo.", "mail.ru", "ya.ru"],
    ),
    ChannelRule(channel="telegram", source=[""], medium=[""], referrer_contains=["t.me", "telegram."]),
    ChannelRule(channel="referral", source=[""], medium=[""], referrer_contains=["."]),
    ChannelRule(channel="direct", source=[""], medium=[""]),
]


MIB = 2**20


class ImportLimits(BaseModel):
    """How much of a file an import will read: what a real export never exceeds, so a damaged or hostile
    file is refused by name before it can take the memory or the time of the machine.

    Text limits are in characters of the decoded text (what the CSV reader counts); a *line* is one record,
    which may span several physical lines inside quotes. ``rows`` bounds the files read through the
    general table reader (ad, CRM and bank exports, XLSX), whose rows are held as text; the canonical CSV
    and Metrica logs are read in batches and have no row limit.
    """

    model_config = ConfigDict(extra="forbid")

    field_chars: int = Field(default=MIB, ge=1024)
    line_chars: int = Field(default=4 * MIB, ge=1024)
    rows: int = Field(default=1_048_576, ge=1)  # Excel's own limit of a sheet
    xlsx_unpacked_bytes: int = Field(default=1024 * MIB, ge=MIB)
    # Unpacked / packed size of the whole workbook; real exports are below 15 (Direct's: ~10).
    xlsx_ratio: float = Field(default=200.0, ge=10.0)


class DigestRecipient(BaseModel):
    """One person (or chat) the digest goes to: where, in which language, and what they may see.

    ``role`` is a dashboard role (:mod:`kassa.web.users`); an ``agency`` gets only the channels in its
    ``scope``, as on the dashboard.
    """

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    channel: Literal["telegram", "email"]
    chat_id: str | None = None  # Telegram: a user's id, a group's -100… id, or @channelname
    address: str | None = None  # e-mail
    language: Literal["en", "ru"] = "en"
    role: Literal["owner", "marketer", "agency", "viewer"] = "owner"
    scope: list[str] = Field(default_factory=list)

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) else v  # YAML reads 123456 as a number

    @model_validator(mode="after")
    def _where_and_scope(self) -> DigestRecipient:
        if self.channel == "telegram" and not self.chat_id:
            raise ValueError(f"recipient {self.name!r}: a telegram recipient needs chat_id")
        if self.channel == "email" and not (self.address and "@" in self.address):
            raise ValueError(f"recipient {self.name!r}: an email recipient needs an address like a@b.ru")
        if self.role == "agency" and not self.scope:
            raise ValueError(f"recipient {self.name!r}: an agency needs scope: the channels it may see")
        if self.role != "agency" and self.scope:
            raise ValueError(f"recipient {self.name!r}: only an agency has a scope; a {self.role} sees all")
        return self


class SmtpSettings(BaseModel):
    """The mail server the digest is sent through; the password is a secret, never here (docs/digest.md)."""

    model_config = ConfigDict(extra="forbid")
    host: str = "localhost"
    port: int | None = Field(default=None, ge=1, le=65535)  # default: 587 STARTTLS, 465 SSL, 25 none
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    sender: str = "kassa@localhost"  # the From: address
    timeout: float = Field(default=30.0, gt=0)
    ca_file: Path | None = None  # a private CA that signed the server's certificate (else the system's)


class DigestSettings(BaseModel):
    """``digest:`` in kassa.yaml: who gets the digest and how (docs/digest.md)."""

    model_config = ConfigDict(extra="forbid")
    recipients: list[DigestRecipient] = Field(default_factory=list)
    # The dashboard's address as people reach it (https://kassa.example.ru); with it the digest links the
    # full report. Without it there is no link (a 127.0.0.1 address means nothing on a phone).
    public_url: str | None = None
    attach: list[Literal["html", "xlsx"]] = Field(
        default_factory=lambda: list[Literal["html", "xlsx"]](["html"])
    )
    telegram_api: str = "https://api.telegram.org"  # settable: a local Bot API server, or a test's
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)

    @field_validator("recipients")
    @classmethod
    def _unique_names(cls, v: list[DigestRecipient]) -> list[DigestRecipient]:
        names = [r.name for r in v]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"recipient names must differ: {', '.join(twice)} appear twice")
        return v

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("https://", "http://")):
            raise ValueError("public_url must start with https:// (or http://)")
        return v.rstrip("/") if v else v


JOB_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"  # also a lock file's name beside the warehouse


class ConversionsJob(BaseModel):
    """``conversions:`` of a ``kind: conversions`` job: what ``kassa conversions --upload`` it runs
    (docs/conversions.md); the period is the last ``days`` days through yesterday."""

    model_config = ConfigDict(extra="forbid")
    goal: Literal["qualified_lead", "sale", "paid"]
    platform: Literal["metrica", "google-ads", "meta"]
    upload: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")  # the connection's name
    target: str | None = None
    action: str | None = None  # Google Ads: the conversion action's id
    pixel: str | None = None  # Meta: the pixel (dataset) id
    days: int = Field(default=30, ge=1, le=90)


class ScheduledJob(BaseModel):
    """One job of ``schedule: jobs:`` (docs/schedule.md): what runs, and when in the business's time zone.

    ``tries`` attempts in all, the n-th retry ``backoff_minutes · 2ⁿ⁻¹`` after the failure before it; after
    the last the owner recipients get an alert.
    """

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=JOB_NAME)
    kind: Literal["sync", "digest", "alerts", "conversions"]
    at: str  # 'daily 08:00', 'weekly mon 09:00', 'monthly 1 09:00' or five cron fields
    connections: list[str] = Field(default_factory=list)  # sync: these (default: every connection)
    period: Literal["month", "week"] = "month"  # digest: the previous month, or the previous week
    to: list[str] = Field(default_factory=list)  # digest and alerts: these recipients (default: all)
    conversions: ConversionsJob | None = None  # conversions: what to upload where
    tries: int = Field(default=3, ge=1, le=10)
    backoff_minutes: float = Field(default=5.0, gt=0, le=24 * 60)

    @field_validator("at")
    @classmethod
    def _schedule(cls, v: str) -> str:
        try:
            Cron.parse(v)
        except CronError as exc:
            raise ValueError(str(exc)) from None
        return v

    @model_validator(mode="after")
    def _options_fit(self) -> ScheduledJob:
        if self.connections and self.kind != "sync":
            raise ValueError(f"job {self.name!r}: connections: is for a sync job, not {self.kind}")
        if self.to and self.kind in ("sync", "conversions"):
            raise ValueError(f"job {self.name!r}: to: is for a digest or alerts job")
        if (self.conversions is None) == (self.kind == "conversions"):
            raise ValueError(
                f"job {self.name!r}: conversions: {{goal, platform, upload}} is needed by a conversions job, "
                "and only by one"
            )
        return self

    @property
    def cron(self) -> Cron:
        return Cron.parse(self.at)


class ScheduleSettings(BaseModel):
    """``schedule:`` in kassa.yaml: the jobs ``kassa run-scheduled`` and ``kassa serve`` run."""

    model_config = ConfigDict(extra="forbid")
    jobs: list[ScheduledJob] = Field(default_factory=list)

    @field_validator("jobs")
    @classmethod
    def _unique_names(cls, v: list[ScheduledJob]) -> list[ScheduledJob]:
        names = [j.name for j in v]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"job names must differ: {', '.join(twice)} appear twice")
        return v


class AlertSettings(BaseModel):
    """``alerts:`` in kassa.yaml: the thresholds of each alert (docs/schedule.md lists them)."""

    model_config = ConfigDict(extra="forbid")
    # tracking broke
    spend_without_visits_min_cost: float = Field(default=1000.0, ge=0)  # a day's cost with no visit at all
    unsourced_leads_min_leads: int = Field(default=10, ge=1)  # leads in the last week before the share counts
    unsourced_leads_jump: float = Field(default=0.15, gt=0, le=1)  # share up by at least this much …
    click_ids_min_visits: int = Field(default=20, ge=1)  # … and significantly (q ≤ alpha)
    click_ids_missing_share: float = Field(default=0.5, gt=0, le=1)  # of a platform's visits a day
    # Platforms that add a click id to every click by default (yclid, gclid, fbclid); VK Ads does not.
    click_id_channels: list[str] = Field(default_factory=lambda: ["yandex_direct", "google_ads", "meta_ads"])
    sync_stale_hours: float = Field(default=36.0, gt=0)
    # sales stalled
    response_minutes: float = Field(default=60.0, gt=0)  # the company's response time
    unanswered_min_leads: int = Field(default=3, ge=1)
    qualified_waiting_days: int = Field(default=7, ge=1)  # a qualified lead without a deal this long …
    qualified_waiting_min_leads: int = Field(default=5, ge=1)  # … and this many of them
    win_rate_weeks: int = Field(default=8, ge=2, le=52)  # a manager's last 4 weeks against the weeks before
    # money leak
    cpql_weeks: int = Field(default=4, ge=1, le=26)  # the level: cost per qualified lead these weeks before
    cpql_margin: float = Field(default=0.5, gt=0)  # the last week above the level by at least this much
    zero_qualified_days: int = Field(default=7, ge=1)
    zero_qualified_min_cost: float = Field(default=5000.0, ge=0)
    # cash gap
    unpaid_days: int = Field(default=14, ge=1)  # a won deal without its money this long
    alpha: float = Field(default=0.05, gt=0, lt=1)  # the significance tests' level


class Settings(BaseModel):
    """Everything kassa needs to know about the business that the data does not say."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "Europe/Moscow"
    currency: str = "RUB"
    # VAT: Russia's standard rate was 20 % until 2025-12-31 and is 22 % from 2026-01-01.
    vat_rates: list[VatRate] = Field(
        default_factory=lambda: [
            VatRate(since=dt.date(2019, 1, 1), rate=0.20),
            VatRate(since=dt.date(2026, 1, 1), rate=0.22),
        ]
    )
    # How reports show costs. False: net of VAT, as an accountant compares them to revenue.
    costs_include_vat: bool = False
    channel_rules: list[ChannelRule] = Field(default_factory=lambda: list(DEFAULT_CHANNEL_RULES))
    # Channels that count as "no marketing source" when looking for a lead's last touch.
    direct_channels: list[str] = Field(default_factory=lambda: ["direct"])
    # How far back a lead without UTM looks for its last marketing visit (and journeys for attribution).
    lookback_days: int = Field(default=90, ge=1, le=730)
    # How long a customer's lifetime is counted from their first purchase (LTV, payback, cohorts).
    customer_horizon_months: int = Field(default=12, ge=1, le=120)
    phone_region: str = "RU"
    store_personal_data: bool = False
    import_limits: ImportLimits = Field(default_factory=ImportLimits)
    # Excluded from the settings' JSON: metrics key their compiled SQL by it, and who gets the digest
    # changes no number.
    digest: DigestSettings = Field(default_factory=DigestSettings, exclude=True)
    # Also excluded: when jobs run and when an alert speaks change no number either.
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings, exclude=True)
    alerts: AlertSettings = Field(default_factory=AlertSettings, exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Europe/Moscow)") from None
        return v

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, v: str) -> str:
        if len(v) != 3 or not v.isalpha():
            raise ValueError("currency must be a three-letter ISO 4217 code such as RUB")
        return v.upper()

    @field_validator("vat_rates")
    @classmethod
    def _sorted_rates(cls, v: list[VatRate]) -> list[VatRate]:
        return sorted(v, key=lambda r: r.since)

    @model_validator(mode="after")
    def _jobs_name_recipients(self) -> Settings:
        known = {r.name for r in self.digest.recipients}
        for job in self.schedule.jobs:
            if unknown := [n for n in job.to if n not in known]:
                names = ", ".join(sorted(known)) or "none declared under digest: recipients:"
                raise ValueError(
                    f"job {job.name!r}: to: {', '.join(unknown)} is no recipient (recipients: {names})"
                )
        return self

    def vat_rate_on(self, day: dt.date) -> float:
        rate = 0.0
        for r in self.vat_rates:
            if r.since <= day:
                rate = r.rate
        return rate


def load_settings(path: str | Path | None) -> Settings:
    """Settings from ``path`` if given (it must exist), else defaults."""
    if path is None:
        return Settings()
    return load_yaml_model(path, Settings)
