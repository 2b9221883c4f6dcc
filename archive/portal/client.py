"""HTTP to a CAP-style portal: the token in a header, retries with backoff on 429, 5xx and broken
connections, and the one place where HTTP failures become one-line messages (never with the token).
"""
from __future__ import annotations

import json
import re
import time
from typing import Callable
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from .config import PortalError, Settings
from .streams import BLOCK

RETRY_STATUSES = {429, 500, 502, 503, 504}


class BigBlockAdapter(HTTPAdapter):
    """urllib3 sends a file body in 16 KiB reads by default; 1 MiB blocks cost far less Python per byte."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["blocksize"] = BLOCK
        super().init_poolmanager(*args, **kwargs)


class Client:
    def __init__(self, settings: Settings, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {settings.token}"
        self.session.headers["User-Agent"] = "recast-archive"
        adapter = BigBlockAdapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def api(self, path: str) -> str:
        return f"{self.settings.portal}/api/{path}"

    @staticmethod
    def object_url(bucket: str, key: str) -> str:
        return f"{bucket}/{quote(key)}"

    def request(self, method: str, url: str, what: str, expect: tuple[int, ...] = (200,),
                body: Callable[[], object] | None = None, **kwargs) -> requests.Response:
        """Send, retrying what a busy or flaky portal does to us; `body` makes a fresh request body
        for each attempt (a file is re-opened, not re-read from where the last attempt stopped)."""
        attempt = 0
        while True:
            data = body() if body else None
            try:
                response = self.session.request(method, url, data=data, timeout=(30, 300), **kwargs)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                failure, wait = f"connection failed ({reason(exc)})", None
            else:
                if response.status_code in expect:
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise PortalError(f"{what}: {self.explain(response)}")
                failure, wait = self.explain(response), retry_after(response)
                response.close()
            finally:
                if hasattr(data, "close"):
                    data.close()
            if attempt >= self.settings.retries:
                raise PortalError(f"{what}: {failure} (gave up after {attempts(attempt + 1)})")
            self.sleep(wait if wait is not None else self.settings.backoff * 2 ** attempt)
            attempt += 1

    def json(self, method: str, url: str, what: str, expect: tuple[int, ...] = (200,), payload=None, **kwargs):
        headers = {"Accept": "application/json"}
        if payload is not None:
            text = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
            kwargs["body"] = lambda: text
        response = self.request(method, url, what, expect, headers=headers, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise PortalError(f"{what}: the portal answered {response.status_code} with something that is not JSON") from None

    def explain(self, response: requests.Response) -> str:
        """'HTTP 403: <the portal's message>', from CAP's error body when there is one."""
        message = ""
        try:
            body = response.json()
            message = str(body.get("message", "")) if isinstance(body, dict) else ""
            for error in body.get("errors", []) if isinstance(body, dict) else []:
                field = ".".join(str(f) for f in error.get("field", [])) if isinstance(error.get("field"), list) else error.get("field")
                message += f"; {field}: {error.get('message')}"
        except ValueError:
            message = response.text[:200] if response.headers.get("content-type", "").startswith("text/") else ""
        hint = {401: " (is the token right?)"}.get(response.status_code, "")
        return self.redact(f"HTTP {response.status_code}{': ' + ' '.join(message.split()) if message else ''}{hint}")

    def redact(self, text: str) -> str:
        return text.replace(self.settings.token, "***") if self.settings.token else text


def attempts(n: int) -> str:
    return f"{n} attempt{'s' if n > 1 else ''}"


def retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return min(float(value), 60.0) if value.replace(".", "", 1).isdigit() else None


def reason(exc: Exception) -> str:
    """The root cause of a requests exception, without its long pool and URL preamble."""
    text = str(exc)
    for pattern in (r"\[Errno -?\d+\] ([^'\")\]]+)", r"(Connection aborted|Connection broken|Read timed out|"
                    r"Remote end closed connection without response|IncompleteRead\([^)]*\))"):
        found = re.search(pattern, text)
        if found:
            return found.group(1).strip()
    return type(exc).__name__
