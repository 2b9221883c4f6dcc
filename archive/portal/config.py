"""Where push and pull find the portal and the token: one settings object, resolved in one place.

Each value comes from the first of: the command-line flag, the environment
(RECAST_PORTAL_URL, RECAST_PORTAL_TOKEN, RECAST_PORTAL_TOKEN_FILE, RECAST_PORTAL_RETRIES,
RECAST_PORTAL_BACKOFF, RECAST_PORTAL_JOBS), the config file ($RECAST_ARCHIVE_CONFIG, else
$XDG_CONFIG_HOME/recast-archive/config.ini), an INI file such as

    [portal]
    url = http://127.0.0.1:8765
    token_file = ~/.config/recast-archive/token
    retries = 5
    backoff = 1.0
    jobs = 2

The token is kept out of every repr, message and file this package writes.
"""
from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field
from pathlib import Path

from yadage2x.errors import Yadage2xError


class PortalError(Yadage2xError):
    """A push, pull or serve problem the user can act on: one line, exit status 2."""


@dataclass(frozen=True)
class Settings:
    portal: str
    token: str = field(repr=False)
    retries: int = 5        # further attempts after a 429, a 5xx or a broken connection
    backoff: float = 1.0    # seconds before the first retry; doubled each time
    progress: bool = True
    jobs: int = 2           # files transferred at the same time


def config_path() -> Path:
    if os.environ.get("RECAST_ARCHIVE_CONFIG"):
        return Path(os.environ["RECAST_ARCHIVE_CONFIG"]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "recast-archive" / "config.ini"


def resolve(portal: str | None = None, token: str | None = None, token_file: str | None = None,
            progress: bool = True, jobs: int | None = None) -> Settings:
    path = config_path()
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise PortalError(f"{path}: not a valid config file ({type(exc).__name__})") from None
    section = parser["portal"] if parser.has_section("portal") else {}

    def pick(flag, env: str, key: str):
        return flag if flag not in (None, "") else os.environ.get(env) or section.get(key) or None

    url = pick(portal, "RECAST_PORTAL_URL", "url")
    if not url:
        raise PortalError(f"no portal URL: give --portal, set RECAST_PORTAL_URL, or set url in [portal] of {path}")
    if not url.startswith(("http://", "https://")):
        raise PortalError(f"portal URL must start with http:// or https://: {url}")
    secret = token if token else None
    if secret is None:
        source = token_file or os.environ.get("RECAST_PORTAL_TOKEN_FILE")
        if source is None and not os.environ.get("RECAST_PORTAL_TOKEN"):
            source = section.get("token_file")
        if source:
            try:
                secret = Path(source).expanduser().read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise PortalError(f"{source}: cannot read the token file ({exc.strerror})") from None
        else:
            secret = os.environ.get("RECAST_PORTAL_TOKEN") or section.get("token")
    if not secret:
        raise PortalError(
            f"no portal token: give --token-file, set RECAST_PORTAL_TOKEN, or set token_file in [portal] of {path}"
        )
    try:
        retries = int(pick(None, "RECAST_PORTAL_RETRIES", "retries") or 5)
        backoff = float(pick(None, "RECAST_PORTAL_BACKOFF", "backoff") or 1.0)
        jobs = int(pick(jobs, "RECAST_PORTAL_JOBS", "jobs") or 2)
    except ValueError:
        raise PortalError("RECAST_PORTAL_RETRIES and RECAST_PORTAL_JOBS must be whole numbers, "
                          "RECAST_PORTAL_BACKOFF a number") from None
    return Settings(url.rstrip("/"), secret, max(retries, 0), max(backoff, 0.0), progress, max(jobs, 1))
