"""Configuration from CVMS_* environment variables (one place, read by app, CLI and jobs)."""
from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """Settings the app cannot start with; the message says which variable to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix='CVMS_', env_file='.env', extra='ignore')

    data_dir: Path = Path('data')
    database_url: str = ''  # default: SQLite file under data_dir
    port: int = 8080
    host: str = '0.0.0.0'  # noqa: S104 - a server is meant to be reachable
    base_url: str = 'http://localhost:8080'
    storage_secret: str = ''  # signs session cookies: every instance behind one address needs the same one
    redis_url: str = ''  # set to share NiceGUI storage between several app instances (then set storage_secret)
    # The proxies (nginx) whose X-Forwarded-For and X-Forwarded-Proto are believed: comma-separated addresses or
    # networks, or '*'. From any other address those headers are ignored, so nobody picks their own client address
    # (log-in throttling counts failures per client address).
    forwarded_allow_ips: str = '127.0.0.1'

    smtp_host: str = ''
    smtp_port: int = 25
    smtp_username: str = ''
    smtp_password: str = ''
    smtp_tls: bool = False
    mail_from: str = 'Vaccine Management System <no-reply@cvms.example.org>'
    mail_rate_per_second: float = 0.0  # 0 = no cap; real providers have quotas
    # Kept open while sending, sharing that one cap. Each records its delivery before sending again (a killed
    # sender resends at most one message per connection), and their records are committed together.
    smtp_connections: int = Field(default=4, ge=1)

    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    # Log-in failures slow further attempts on the account (and, at half the rate, from the client address: desks
    # share one) by a growing delay up to login_max_delay_seconds; never a lock a stranger could set off.
    login_slow_after: int = 3  # failures (this attempt included) before attempts wait
    login_max_delay_seconds: float = 8.0
    login_failure_minutes: int = 15  # a streak of failures is forgotten after this long without one
    reset_links_per_account: int = 3  # password-reset emails per account, and 10x that per client address,
    reset_links_window_minutes: int = 60  # within this long after the last request

    # Real argon2 always; tests and the demo may lower its cost.
    argon2_memory_kib: int = 65536
    argon2_time_cost: int = 3

    bulk_max_rows: int = 100_000
    bulk_max_file_mb: int = 50
    # Records per committed unit of work of a High Volume job: fewer, larger commits (and WAL checkpoints) load
    # faster; a stopped job resumes after its last committed chunk.
    bulk_chunk_rows: int = Field(default=10_000, ge=1)

    # The state's time zone (IANA name): state-wide screens, and every location without a zone of its own.
    state_time_zone: str = 'America/New_York'

    @field_validator('state_time_zone')
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f'{name!r} is not a time zone name such as America/Chicago') from error
        return name

    # Background work (docs/adr/0010): `serve` runs it too unless this is false (a web-only instance).
    run_jobs: bool = True
    # A worker silent this long (killed, frozen) has its jobs, and a sender its claimed emails, taken over.
    job_lease_seconds: float = Field(default=30.0, gt=0)
    worker_concurrency: int = Field(default=3, ge=1)  # jobs one worker process runs at once
    clinic_jobs_cron: str = '*/5 * * * *'  # dose reminders and no-shows (cron; a 6th field counts seconds)

    # Capacity (README "Capacity"): the web process's garbage collector tuned after start-up (services/core/runtime),
    # and GET /_debug/stats (full-GC pauses, memory, connected clients) for benchmarks/load.py; off in production.
    gc_tuning: bool = True
    debug_stats: bool = False

    # HL7 administrative sex X (non-binary) is offered and accepted only where the state's registry takes it.
    allow_sex_x: bool = False

    # The state's immunization registry (IIS): how our HL7 messages name both ends (MSH-3 to MSH-6), whether they
    # are production (P) or test (T) messages (MSH-11), and the assigning authority of our person ids (PID-3.4).
    iis_sending_application: str = 'CVMS'
    iis_sending_facility: str = 'CVMS'
    iis_receiving_application: str = 'IIS'
    iis_receiving_facility: str = 'IIS'
    iis_processing_id: str = Field(default='P', pattern='^[PTD]$')
    iis_assigning_authority: str = 'CVMS'
    # SMART Health Cards: the signing keys (ES256), newest first; default data_dir/health_card_keys.json. Every
    # instance must read the same file (or cards signed by one would not verify against another's published keys).
    health_card_key_file: Path | None = None
    # How messages reach it (README "Registry reporting"): MLLP over TCP when the host is set, else the CDC WSDL's
    # SOAP submitSingleMessage when the URL is set, else only the batch file (`main.py iis-export`).
    iis_mllp_host: str = ''
    iis_mllp_port: int = Field(default=2575, ge=1, le=65535)
    iis_soap_url: str = ''
    iis_soap_username: str = ''
    iis_soap_password: str = ''
    iis_soap_facility_id: str = ''
    iis_timeout_seconds: float = Field(default=15.0, gt=0)  # one message's send and answer
    iis_query_timeout_seconds: float = Field(default=8.0, gt=0)  # a history query at the desk: someone waits
    iis_sweep_seconds: int = Field(default=30, ge=1, le=59)  # how often workers look for messages due again

    @property
    def iis_transport(self) -> str:
        """'mllp', 'soap' or '' (no live registry: messages wait for the batch file)."""
        if self.iis_mllp_host:
            return 'mllp'
        return 'soap' if self.iis_soap_url else ''

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f'sqlite:///{(self.data_dir / "cvms.sqlite3").resolve()}'

    @property
    def resolved_storage_secret(self) -> str:
        """The configured secret, or one generated once and kept in the data folder (one instance only)."""
        if self.storage_secret:
            return self.storage_secret
        if self.redis_url:
            raise SettingsError('CVMS_STORAGE_SECRET must be set when CVMS_REDIS_URL is set: every app instance '
                                'signs session cookies with it, so all instances need the same secret (for example '
                                'the output of: python -c "import secrets; print(secrets.token_urlsafe(48))").')
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / 'storage_secret'
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def uses_https(self) -> bool:
        return self.base_url.startswith('https://')


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests and the CLI change environment variables)."""
    get_settings.cache_clear()


