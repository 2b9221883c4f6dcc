"""Private registries: the real docker-registry (scripts/registry.sh) behind basic auth (htpasswd)
and behind token auth (a token service written here, on loopback, signing JWTs the registry
checks against a certificate it was given). Credentials come from a Docker config file and must
never reach the deposit. Test images are built and pushed with our own registry client; a
multi-platform one (an OCI index) shows that one platform is stored and loads into Docker.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from archive.registry import Registry
from test_archive import LocalRegistry, archive

USER, PASSWORD = "analyst", "s3cret-Pa55word"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def push_tiny_image(host: str, repository: str, tag: str, scratch: Path, arch: str = "amd64") -> str:
    """A one-layer image with a shell-free file in it, pushed through our client; returns its digest."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        body = f"preserved for {arch}\n".encode()
        info = tarfile.TarInfo("hello.txt")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps({"architecture": arch, "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]}}).encode()
    registry = Registry(host)
    blobs = []
    for data, media in ((config, "application/vnd.oci.image.config.v1+json"), (layer, "application/vnd.oci.image.layer.v1.tar+gzip")):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = scratch / digest[7:]
        path.write_bytes(data)
        registry.push_blob(repository, digest, path)
        path.unlink()
        blobs.append({"mediaType": media, "digest": digest, "size": len(data)})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": blobs[0], "layers": blobs[1:]}).encode()
    registry.push_manifest(repository, tag, manifest, "application/vnd.oci.image.manifest.v1+json")
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


@pytest.fixture
def docker_config(tmp_path, monkeypatch):
    """A Docker config file with the test credentials for a host, as `docker login` writes it."""
    def write(host: str) -> Path:
        folder = tmp_path / "docker-config"
        folder.mkdir(exist_ok=True)
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        (folder / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(folder))
        return folder
    return write


def workflow_using(folder: Path, image: str, tag: str) -> Path:
    folder.mkdir()
    (folder / "workflow.yml").write_text(
        "stages:\n  - name: show\n    dependencies: [init]\n    scheduler:\n      scheduler_type: singlestep-stage\n"
        "      parameters: {out: '{workdir}/out.txt'}\n      step:\n"
        "        process: {process_type: string-interpolated-cmd, cmd: 'cat /hello.txt > {out}'}\n"
        f"        environment: {{environment_type: docker-encapsulated, image: '{image}', imagetag: '{tag}'}}\n"
        "        publisher: {publisher_type: frompar-pub, outputmap: {out: out}}\n")
    return folder / "workflow.yml"


def assert_no_secret(deposit: Path) -> None:
    secrets = [PASSWORD.encode(), base64.b64encode(f"{USER}:{PASSWORD}".encode())]
    for path in deposit.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s in data for s in secrets), f"{path} holds a credential"


def test_basic_auth_registry(tmp_path, docker_config, monkeypatch):
    import bcrypt

    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"{USER}:{bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
    registry = LocalRegistry(tmp_path / "registry")
    registry.folder.mkdir()
    registry.up(f"{{htpasswd: {{realm: recast-archive-tests, path: {htpasswd}}}}}")
    try:
        docker_config(registry.host)
        digest = push_tiny_image(registry.host, "private/tiny", "v1", tmp_path)
        wf = workflow_using(tmp_path / "wf", f"{registry.host}/private/tiny", "v1")
        code, out, err = archive("pack", wf, "--with-images", "-o", tmp_path / "dep")
        assert code == 0, err
        lock = json.loads((tmp_path / "dep" / "data" / "recast-archive.json").read_text())["images"]
        assert lock[0]["digest"] == digest
        assert_no_secret(tmp_path / "dep")
        assert archive("verify", tmp_path / "dep")[0] == 0
        # without credentials: one line, naming the spec, and nothing written
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "nowhere"))
        code, out, err = archive("pack", wf, "-o", tmp_path / "dep2")
        assert code == 2 and err.count("\n") == 1
        assert "workflow.yml:" in err and "asks for a login" in err
        assert not (tmp_path / "dep2").exists()
    finally:
        registry.down()


class TokenService:
    """Issues registry tokens (RS256 JWTs with the signing certificate in x5c) to USER/PASSWORD,
    as Docker Hub's auth.docker.io does."""

    def __init__(self, folder: Path):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "recast-archive test token issuer")])
        now = datetime.now(timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                     .serial_number(1).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
                     .sign(self.key, hashes.SHA256()))
        self.certfile = folder / "token-cert.pem"
        self.certfile.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.der = self.cert.public_bytes(serialization.Encoding.DER)
        self.issued: list[str] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                query = parse_qs(urlparse(self.path).query)
                body = json.dumps({"token": service.token(query["service"][0], query.get("scope", [""])[0])}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, audience: str, scope: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        access = []
        if scope:
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(self.der).decode()]}
        claims = {"iss": "recast-archive-tests", "sub": USER, "aud": audience, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": str(len(self.issued)), "access": access}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        token = f"{signing_input}.{b64url(signature)}"
        self.issued.append(token)
        return token

    def stop(self):
        self.server.shutdown()


def test_token_auth_registry(tmp_path, docker_config):
    tokens = TokenService(tmp_path)
    registry = LocalRegistry(tmp_path / "registry")
    registry.folder.mkdir()
    registry.up(f"{{token: {{realm: '{tokens.realm}', service: recast-archive-registry, "
                f"issuer: recast-archive-tests, rootcertbundle: {tokens.certfile}}}}}")
    try:
        docker_config(registry.host)
        digest = push_tiny_image(registry.host, "private/tiny", "v2", tmp_path)
        wf = workflow_using(tmp_path / "wf", f"{registry.host}/private/tiny", "v2")
        code, out, err = archive("pack", wf, "--with-images", "-o", tmp_path / "dep")
        assert code == 0, err
        data = tmp_path / "dep" / "data"
        assert json.loads((data / "recast-archive.json").read_text())["images"][0]["digest"] == digest
        assert f'imagetag: "v2@{digest}"' in (data / "specs" / "workflow.yml").read_text()
        assert tokens.issued  # the registry really asked for tokens
        assert_no_secret(tmp_path / "dep")
        for token in tokens.issued:
            assert not any(token.encode() in p.read_bytes() for p in (tmp_path / "dep").rglob("*") if p.is_file())
        assert archive("verify", tmp_path / "dep")[0] == 0
    finally:
        registry.down()
        tokens.stop()


def test_multi_platform_image_stores_one_platform_and_loads_into_docker(tmp_path):
    import os
    import subprocess

    from archive import images as oci
    from archive.registry import parse_reference

    registry = LocalRegistry(tmp_path / "registry")
    registry.up()
    try:
        client = Registry(registry.host)
        children = {arch: push_tiny_image(registry.host, "multi/tiny", f"only-{arch}", tmp_path, arch) for arch in ("amd64", "arm64")}
        index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
             "size": len(client.manifest("multi/tiny", digest, digest)[0]), "platform": {"os": "linux", "architecture": arch}}
            for arch, digest in children.items()]}).encode()
        client.push_manifest("multi/tiny", "v1", index, "application/vnd.oci.image.index.v1+json")
        wf = workflow_using(tmp_path / "wf", f"{registry.host}/multi/tiny", "v1")
        code, out, err = archive("pack", wf, "--with-images", "--platform", "linux/arm64", "-o", tmp_path / "dep")
        assert code == 0, err
    finally:
        registry.down()
    image = json.loads((tmp_path / "dep" / "data" / "recast-archive.json").read_text())["images"][0]
    assert image["digest"] == "sha256:" + hashlib.sha256(index).hexdigest()  # the pin is the index: portable
    assert image["platform_digest"] == children["arm64"]
    layout = tmp_path / "dep" / "data" / "images"
    assert oci.blob_path(layout, children["arm64"]).exists() and not oci.blob_path(layout, children["amd64"]).exists()
    assert archive("verify", tmp_path / "dep")[0] == 0
    if not os.environ.get("YADAGE2X_DOCKER"):
        return
    name, tag = oci.docker_load(layout, parse_reference(image["reference"], None))
    try:
        inspected = subprocess.run(["docker", "image", "inspect", "--format", "{{.Architecture}}", f"{name}:{tag}"], capture_output=True, text=True)
        assert inspected.stdout.strip() == "arm64"
    finally:
        subprocess.run(["docker", "rmi", f"{name}:{tag}"], capture_output=True)
