"""Node settings, read from ``ACCORD_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from pydantic import Field, IPvAnyNetwork, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from accord.domain.states import parse_state
from accord.domain.tlp import TLP


class Settings(BaseSettings):
    """Everything a node needs to start. Every field is an ``ACCORD_<NAME>`` variable."""

    model_config = SettingsConfigDict(env_prefix="ACCORD_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/accord.db",
        description="SQLAlchemy URL: a SQLite file, or postgresql+psycopg://… in production.",
    )
    host: str = Field(default="127.0.0.1", description="Address the node listens on.")
    port: int = Field(default=8470, ge=1, le=65535, description="Port the node listens on.")
    workers: int = Field(default=1, ge=1, le=64, description="Server worker processes.")
    node_name: str = Field(default="accord-demo", description="This node's name, shown to peers.")
    node_state: str = Field(default="SG", description="ISO 3166-1 alpha-2 code of the operator.")
    default_tlp: TLP = Field(default=TLP.AMBER, description="TLP for objects that carry none.")
    max_body_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 over)."
    )
    sync_interval: float = Field(
        default=60, ge=1, description="Seconds between scheduled syncs with each peer."
    )
    federation_push: bool = Field(
        default=True, description="Push new shares to peers as soon as they are stored."
    )
    federation_push_poll: float = Field(
        default=0.2,
        gt=0,
        le=60,
        description="Seconds between looks for shares stored by other processes, to push.",
    )
    federation_push_gather: float = Field(
        default=0.02, ge=0, le=5, description="Seconds a push waits for the rest of a burst."
    )
    federation_push_backoff: float = Field(
        default=1, gt=0, description="Seconds before retrying a failed push; doubles each time."
    )
    federation_push_backoff_max: float = Field(
        default=60, gt=0, description="Longest wait between retries of a failed push, seconds."
    )
    federation_page: int = Field(default=1000, ge=1, le=10_000, description="Objects a message.")
    federation_timeout: float = Field(default=30, gt=0, description="Seconds to wait for a peer.")
    federation_max_skew: float = Field(
        default=300, gt=0, description="Largest clock difference accepted from a peer, seconds."
    )
    page_size_max: int = Field(default=10_000, ge=1, description="Largest page a list returns.")
    misp_import_hold_mb: int = Field(
        default=2048,
        ge=1,
        description="MiB of prepared documents a MISP import holds between checking and storing.",
    )
    # Coordination (points of contact, checks, requests): notifications and deadlines.
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server for notifications.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP server port.")
    smtp_starttls: bool = Field(default=False, description="Upgrade SMTP with STARTTLS.")
    smtp_username: str | None = Field(default=None, description="SMTP login; omit: none.")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_sender: str = Field(
        default="accord@localhost", description="From address of notifications."
    )
    smtp_timeout: float = Field(default=10, gt=0, description="Seconds to wait for SMTP.")
    notify_attempts: int = Field(default=5, ge=1, description="Tries before giving up a message.")
    notify_backoff: float = Field(
        default=30, gt=0, description="Seconds before the first retry; doubles each time."
    )
    webhook_allow: list[IPvAnyNetwork] = Field(
        default=[],
        description="Networks webhooks may reach though not public (JSON list of CIDRs).",
    )
    coordination_interval: float = Field(
        default=30, ge=0.1, description="Seconds between reminder/escalation/delivery runs."
    )
    check_reminder_at: float = Field(
        default=0.75, gt=0, lt=1, description="Share of a check's window after which to remind."
    )
    request_deadlines: dict[str, tuple[float, float]] = Field(
        default={"critical": (2, 24), "high": (8, 72), "medium": (24, 168), "low": (72, 720)},
        description="Hours to acknowledge and to respond, per urgency (JSON).",
    )
    # Sign-in throttling: failed password checks back off per (account, address), per
    # address (spraying) and per account (a distributed guesser; capped low, it only slows).
    signin_free_failures: int = Field(
        default=5, ge=1, description="Failed sign-ins of one account from one address before waits."
    )
    signin_first_wait: float = Field(
        default=1, gt=0, description="Seconds of the first wait; doubles with each failure."
    )
    signin_max_wait: float = Field(
        default=900, gt=0, description="Longest wait of one account from one address, seconds."
    )
    signin_address_free_failures: int = Field(
        default=20, ge=1, description="Failed sign-ins from one address, any account, before waits."
    )
    signin_address_max_wait: float = Field(
        default=900, gt=0, description="Longest wait of one address, any account, seconds."
    )
    signin_account_free_failures: int = Field(
        default=10, ge=1, description="Failed sign-ins of one account, any address, before waits."
    )
    signin_account_max_wait: float = Field(
        default=60, gt=0, description="Longest wait of one account, any address, seconds."
    )
    signin_forget_after: float = Field(
        default=3600, gt=0, description="Seconds without a failure after which a streak ends."
    )

    @field_validator("node_state")
    @classmethod
    def _state(cls, value: str) -> str:
        return parse_state(value)

    @field_validator("default_tlp", mode="before")
    @classmethod
    def _tlp(cls, value: object) -> object:
        return TLP.parse(value) if isinstance(value, str) else value

    @field_validator("request_deadlines")
    @classmethod
    def _deadlines(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        wanted = {"critical", "high", "medium", "low"}
        if set(value) != wanted:
            raise ValueError(f"give hours for exactly: {', '.join(sorted(wanted))}")
        if any(not 0 < ack <= respond for ack, respond in value.values()):
            raise ValueError("each urgency needs 0 < hours to acknowledge <= hours to respond")
        return value

    @model_validator(mode="after")
    def _signin_streaks_outlast_waits(self) -> Settings:
        longest = max(self.signin_max_wait, self.signin_address_max_wait)
        if self.signin_forget_after < max(longest, self.signin_account_max_wait):
            raise ValueError(
                "ACCORD_SIGNIN_FORGET_AFTER must be at least the longest sign-in wait,"
                " or a streak is forgotten before its wait grows"
            )
        return self

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
