"""Where Strigil keeps its data, read once from the environment (STRIGIL_*)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "LOCAL_HOSTS",
    "Settings",
    "data_home",
    "default_database_url",
    "demo_database_url",
    "get_settings",
]


def data_home() -> Path:
    """Strigil's folder: $STRIGIL_HOME, else $XDG_DATA_HOME/strigil, else ~/.local/share/strigil."""
    explicit = os.environ.get("STRIGIL_HOME")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "strigil"


def default_database_url() -> str:
    """The clinic's own database: one SQLite file in the data home."""
    return f"sqlite:///{data_home() / 'clinic.sqlite'}"


def demo_database_url() -> str:
    """Demo data always lives in its own file, never in the clinic's database."""
    return f"sqlite:///{data_home() / 'demo.sqlite'}"


# The names a browser on the server's own machine uses: what `strigil serve` allows when none are set.
LOCAL_HOSTS = "localhost,127.0.0.1,::1"


class Settings(BaseSettings):
    """Process-wide settings; every field can be set as STRIGIL_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="STRIGIL_", extra="ignore")

    database_url: str = ""
    secure_cookies: bool = False
    # Worker threads of one web server process (engineering setting, not clinical): see docs/deployment.md.
    web_threads: int = Field(default=8, ge=1, le=200)
    # Where FHIR Bulk Data export jobs keep their files (default: the data home's "bulk" folder).
    bulk_folder: str = ""
    # How long a finished Bulk Data export's files stay before they are removed, hours (a configurable
    # heuristic: no source fixes it; the status answer's Expires header says when).
    bulk_expiry_hours: float = Field(default=24.0, gt=0, le=24 * 365)
    # How long a client may take to send a request (engineering settings, not clinical; docs/deployment.md):
    # its headers within header_timeout_s; its body within body_timeout_s plus 1 s per body_min_rate bytes.
    header_timeout_s: float = Field(default=10.0, gt=0, le=600)
    body_timeout_s: float = Field(default=20.0, gt=0, le=600)
    body_min_rate: int = Field(default=50_000, ge=1_000, description="bytes per second")
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or networks); default none.
    trusted_proxies: str = ""
    # Host names the server answers to (comma-separated, "*.example.org" for subdomains); empty: any host,
    # except that `strigil serve` then allows only the local names and its --host (see LOCAL_HOSTS).
    allowed_hosts: str = ""

    def resolved_database_url(self) -> str:
        """The database to use: STRIGIL_DATABASE_URL if set, else the default SQLite file."""
        return self.database_url or default_database_url()

    def resolved_bulk_folder(self) -> Path:
        """The folder of Bulk Data export jobs: STRIGIL_BULK_FOLDER if set, else `bulk` in the data home."""
        return Path(self.bulk_folder).expanduser() if self.bulk_folder else data_home() / "bulk"

    def bulk_expiry(self) -> dt.timedelta:
        """How long a finished Bulk Data export's files stay (STRIGIL_BULK_EXPIRY_HOURS)."""
        return dt.timedelta(hours=self.bulk_expiry_hours)


def get_settings() -> Settings:
    """Read the settings now (not cached: tests change the environment)."""
    return Settings()
