"""Talking to OCI registries (the OCI Distribution API): resolve a tag to its digest, fetch an image's
manifests and blobs, push them back.

Facts this relies on (opencontainers/distribution-spec; checked against Debian's docker-registry 2.8):
- `HEAD /v2/<repo>/manifests/<tag>` answers `Docker-Content-Digest`; the Accept header must list the
  Docker v2 and the OCI types together, or registry 2.8 down-converts to schema 1 and answers another
  digest. Where the header is missing, the digest is the sha256 of the raw GET body.
- A 401 carries `WWW-Authenticate: Bearer realm=...,service=...,scope=...` (get a token from the realm,
  with the user's credentials if any) or `Basic` (send the credentials).
- Credentials come from the Docker config file (`$DOCKER_CONFIG/config.json`, else
  `~/.docker/config.json`): `auths.<host>.auth`, or a credential helper. They are used for requests
  only, never written anywhere.
Registries on loopback are spoken to over plain HTTP, as Docker does; others over HTTPS.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests

from yadage2x.errors import Yadage2xError

from .progress import Meter

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[0], MANIFEST_TYPES[2]
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
TIMEOUT = (10, 120)
BLOCK = 1 << 20

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class RegistryError(Yadage2xError):
    pass


@dataclass(frozen=True)
class Reference:
    """An image reference split as github.com/distribution/reference splits it."""

    registry: str  # docker.io for Docker Hub
    repository: str  # library/busybox for Docker Hub's official images
    tag: str
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        return f"{self.name}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


def parse_reference(image: str, imagetag: str | None = "latest") -> Reference:
    """The reference packtivity builds from a docker environment: `image:imagetag`."""
    text = f"{image}:{imagetag}" if imagetag else image
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise RegistryError(f"{text}: digest is not sha256:<64 hex digits>")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = "latest"
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    if not name or not re.match(r"^[\w][\w.-]{0,127}$", tag):
        raise RegistryError(f"{text}: not an image reference")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name if rest else f"library/{name}"
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"  # Docker Hub's official images
    if repository != repository.lower():
        raise RegistryError(f"{text}: repository names are lower case")
    return Reference(registry, repository, tag, digest or None)


def _loopback(host: str) -> bool:
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0][1:]
    return hostname in ("localhost", "::1") or hostname.startswith("127.")


def docker_config_path() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


def credentials(registry: str) -> tuple[str, str] | None:
    """(user, secret) for a registry from the Docker config file, or None."""
    try:
        config = json.loads(docker_config_path().read_text())
    except (OSError, ValueError):
        return None
    keys = [registry] + (["https://index.docker.io/v1/", "index.docker.io"] if registry == DOCKER_HUB else [])
    keys += [f"https://{registry}", f"http://{registry}"]
    helper = (config.get("credHelpers") or {}).get(registry) or config.get("credsStore")
    for key in keys:
        entry = (config.get("auths") or {}).get(key)
        if entry and entry.get("auth"):
            user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
            return user, secret
        if entry and entry.get("username"):
            return entry["username"], entry.get("password", "")
    if helper:
        try:
            out = subprocess.run([f"docker-credential-{helper}", "get"], input=keys[1] if registry == DOCKER_HUB else registry,
                                 capture_output=True, text=True, timeout=30, check=True).stdout
            found = json.loads(out)
            return found["Username"], found["Secret"]
        except (OSError, subprocess.SubprocessError, ValueError, KeyError):
            return None
    return None


class Registry:
    """One registry host; keeps the tokens it was given per scope."""

    def __init__(self, registry: str):
        self.registry = registry
        host = DOCKER_HUB_API if registry == DOCKER_HUB else registry
        self.base = f"{'http' if _loopback(host) else 'https'}://{host}/v2"
        self.session = requests.Session()
        self.auth: dict[str, str] = {}  # scope -> Authorization header
        self.credentials = credentials(registry)

    def request(self, method: str, repository: str, path: str, push: bool = False, **kwargs) -> requests.Response:
        scope = f"repository:{repository}:{'pull,push' if push else 'pull'}"
        url = f"{self.base}/{repository}/{path}" if not path.startswith("http") else path
        headers = dict(kwargs.pop("headers", {}))
        for attempt in range(2):
            if scope in self.auth:
                headers["Authorization"] = self.auth[scope]
            try:
                response = self.session.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)
            except requests.RequestException as exc:
                raise RegistryError(f"{self.registry}: cannot reach the registry ({type(exc).__name__}: {exc})") from None
            if response.status_code != 401 or attempt:
                return response
            self._authenticate(response, scope)
        return response

    def _authenticate(self, response: requests.Response, scope: str) -> None:
        challenge = response.headers.get("WWW-Authenticate", "")
        kind, _, params = challenge.partition(" ")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if kind.lower() == "basic":
            if not self.credentials:
                raise RegistryError(f"{self.registry}: the registry asks for a login and the Docker config has none for it (docker login {self.registry})")
            self.auth[scope] = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
            return
        if kind.lower() != "bearer" or "realm" not in fields:
            raise RegistryError(f"{self.registry}: unsupported authentication challenge '{challenge}'")
        query = {"service": fields.get("service", ""), "scope": fields.get("scope", scope)}
        try:
            answer = requests.get(fields["realm"], params=query, auth=self.credentials, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise RegistryError(f"{self.registry}: cannot reach the token service {fields['realm']} ({exc})") from None
        if answer.status_code != 200:
            raise RegistryError(f"{self.registry}: the token service refused access to {query['scope']} (HTTP {answer.status_code})")
        body = answer.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"{self.registry}: the token service sent no token")
        self.auth[scope] = f"Bearer {token}"

    # -- reading --------------------------------------------------------------------------------

    def resolve(self, ref: Reference) -> tuple[str, str]:
        """(digest, media type) of the manifest the tag (or digest) names, by HEAD: nothing is pulled."""
        target = ref.digest or ref.tag
        response = self.request("HEAD", ref.repository, f"manifests/{target}", headers={"Accept": ", ".join(MANIFEST_TYPES)})
        self._raise_for(response, ref)
        digest = response.headers.get("Docker-Content-Digest")
        media = response.headers.get("Content-Type", "").split(";")[0]
        if not digest:  # older registries omit it on pulls: hash the raw body
            body, media = self.manifest(ref.repository, target, ref)
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if ref.digest and digest != ref.digest:
            raise RegistryError(f"{ref}: the registry serves {digest} for this digest")
        return digest, media

    def manifest(self, repository: str, target: str, ref: Reference | str) -> tuple[bytes, str]:
        response = self.request("GET", repository, f"manifests/{target}", headers={"Accept": ", ".join(MANIFEST_TYPES)})
        self._raise_for(response, ref)
        body = response.content
        if target.startswith("sha256:") and "sha256:" + hashlib.sha256(body).hexdigest() != target:
            raise RegistryError(f"{ref}: manifest {target} from the registry does not hash to its digest")
        return body, response.headers.get("Content-Type", "").split(";")[0]

    def blob(self, repository: str, digest: str, target: Path, meter: Meter | None = None) -> int:
        """Stream a blob to ``target`` (through a temporary name), checking its digest."""
        response = self.request("GET", repository, f"blobs/{digest}", stream=True)
        self._raise_for(response, f"{self.registry}/{repository}@{digest}")
        sha, size = hashlib.sha256(), 0
        partial = target.with_name(target.name + ".part")
        with partial.open("wb") as out:
            for chunk in response.iter_content(BLOCK):
                sha.update(chunk)
                out.write(chunk)
                size += len(chunk)
                if meter:
                    meter.advance(len(chunk))
        if "sha256:" + sha.hexdigest() != digest:
            partial.unlink()
            raise RegistryError(f"{self.registry}/{repository}: blob {digest} arrived with another sha256")
        partial.replace(target)
        return size

    # -- writing (restoring a deposit's images into a registry) ----------------------------------

    def push_blob(self, repository: str, digest: str, path: Path) -> None:
        if self.request("HEAD", repository, f"blobs/{digest}", push=True).status_code == 200:
            return
        start = self.request("POST", repository, "blobs/uploads/", push=True)
        if start.status_code != 202:
            self._raise_for(start, f"{self.registry}/{repository}")
        location = start.headers["Location"]
        if not location.startswith("http"):
            location = self.base.rsplit("/v2", 1)[0] + location
        with path.open("rb") as body:
            done = self.request("PUT", repository, location, push=True, params={"digest": digest}, data=body,
                                headers={"Content-Type": "application/octet-stream", "Content-Length": str(path.stat().st_size)})
        if done.status_code != 201:
            self._raise_for(done, f"{self.registry}/{repository}@{digest}")

    def push_manifest(self, repository: str, target: str, body: bytes, media: str) -> None:
        response = self.request("PUT", repository, f"manifests/{target}", push=True, data=body, headers={"Content-Type": media})
        if response.status_code != 201:
            self._raise_for(response, f"{self.registry}/{repository}:{target}")

    def _raise_for(self, response: requests.Response, what) -> None:
        if response.status_code in (200, 201, 202):
            return
        if response.status_code == 404:
            raise RegistryError(f"{what}: not found in the registry")
        if response.status_code in (401, 403):
            raise RegistryError(f"{what}: access denied by the registry (HTTP {response.status_code}; credentials come from {docker_config_path()})")
        raise RegistryError(f"{what}: the registry answered HTTP {response.status_code}")
