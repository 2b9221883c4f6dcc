"""A deposit's images as ONE OCI image layout (`data/images/`), and getting them back out.

Fetching: for each pinned image, the manifest its digest names (an index for multi-platform images:
the index and the one platform manifest asked for are stored; the other platforms' blobs are left
out, which the image-layout spec allows), its config and its layers, each blob checked against its
digest while it streams to disk. Shared layers are stored once.

Restoring, two ways:
- into the local Docker engine: the layout is streamed to `docker load` as a docker-archive (its
  `manifest.json` pointing at the blobs; Docker accepts compressed layers), tagged
  `recast-archive.local/<repository>:<tag>-<digest prefix>`, and the loaded image's id is checked
  against the config digest (the image id IS that digest, so this pins the bits);
- into a registry (`--registry HOST:PORT`): blobs and manifests are pushed as they are, so the image
  keeps its digest there.
"""
from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
from pathlib import Path

from .progress import meter
from .registry import INDEX_TYPES, Reference, Registry, RegistryError

LAYOUT = {"imageLayoutVersion": "1.0.0"}
REF_NAME = "org.opencontainers.image.ref.name"
LOCAL_PREFIX = "recast-archive.local"
DIGEST_FORM = re.compile(r"sha256:[0-9a-f]{64}")


def blob_path(layout: Path, digest: str) -> Path:
    """Where the layout keeps a blob. Digests come from files a deposit holds (index.json, image
    manifests): anything but a sha256 digest could name a path outside the layout, so it is refused."""
    if not isinstance(digest, str) or not DIGEST_FORM.fullmatch(digest):
        raise RegistryError(f"{layout}: {str(digest)[:100]!r} is not a sha256 digest")
    algorithm, _, hexdigest = digest.partition(":")
    return layout / "blobs" / algorithm / hexdigest


def pick_platform(index: dict, platform: str) -> dict:
    os_name, _, arch = platform.partition("/")
    for descriptor in index.get("manifests", []):
        p = descriptor.get("platform") or {}
        if p.get("os") == os_name and p.get("architecture") == arch:
            return descriptor
    raise RegistryError(f"no {platform} image in the index (has {', '.join(sorted({d.get('platform', {}).get('architecture', '?') for d in index.get('manifests', [])}))})")


def fetch(refs: list[Reference], layout: Path, platform: str) -> dict[str, dict]:
    """Store every image (each ref has its digest) in the OCI layout; returns per reference what
    was stored: {str(ref): {"digest", "media_type", "platform_digest", "size"}}."""
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text(json.dumps(LAYOUT) + "\n")
    registries: dict[str, Registry] = {}
    descriptors, stored = [], {}
    with meter("fetching images") as bar:
        for ref in refs:
            registry = registries.setdefault(ref.registry, Registry(ref.registry))
            body, media = registry.manifest(ref.repository, ref.digest, ref)
            _write(layout, ref.digest, body)
            top = {"mediaType": media, "digest": ref.digest, "size": len(body), "annotations": {REF_NAME: str(ref)}}
            platform_digest, manifest_body = ref.digest, body
            if media in INDEX_TYPES:
                chosen = pick_platform(json.loads(body), platform)
                platform_digest = chosen["digest"]
                manifest_body, _ = registry.manifest(ref.repository, platform_digest, ref)
                _write(layout, platform_digest, manifest_body)
            manifest = json.loads(manifest_body)
            size = len(body)
            for blob in [manifest["config"], *manifest.get("layers", [])]:
                target = blob_path(layout, blob["digest"])
                if not target.exists():
                    registry.blob(ref.repository, blob["digest"], target, bar)
                size += blob.get("size", 0)
            descriptors.append(top)
            stored[str(ref)] = {"digest": ref.digest, "media_type": media, "platform_digest": platform_digest, "size": size}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": descriptors}, indent=2) + "\n")
    return stored


def _write(layout: Path, digest: str, body: bytes) -> None:
    blob_path(layout, digest).write_bytes(body)


def image_manifest(layout: Path, digest: str) -> dict:
    """The single-platform manifest an entry leads to (through its index if it is one)."""
    data = json.loads(blob_path(layout, digest).read_bytes())
    if "manifests" in data:
        present = [d for d in data["manifests"] if blob_path(layout, d["digest"]).exists()]
        if not present:
            raise RegistryError(f"{layout}: no platform manifest of {digest} is stored")
        data = json.loads(blob_path(layout, present[0]["digest"]).read_bytes())
    return data


def missing_blobs(layout: Path, digest: str) -> list[str]:
    """Blobs the image with this digest needs that the layout lacks."""
    if not blob_path(layout, digest).exists():
        return [digest]
    manifest = image_manifest(layout, digest)
    return [b["digest"] for b in [manifest["config"], *manifest.get("layers", [])] if not blob_path(layout, b["digest"]).exists()]


def local_tag(ref: Reference) -> tuple[str, str]:
    """(image, tag) under which a restored image is known to the local Docker engine."""
    return f"{LOCAL_PREFIX}/{ref.repository}", f"{ref.tag}-{ref.digest.split(':')[1][:12]}"[:128]


def docker_load(layout: Path, ref: Reference) -> tuple[str, str]:
    """Load one image from the layout into the local Docker engine; returns (image, tag)."""
    image, tag = local_tag(ref)
    manifest = image_manifest(layout, ref.digest)
    config = manifest["config"]["digest"]
    layers = [layer["digest"] for layer in manifest.get("layers", [])]
    entry = [{"Config": f"blobs/{config.replace(':', '/')}", "RepoTags": [f"{image}:{tag}"],
              "Layers": [f"blobs/{d.replace(':', '/')}" for d in layers]}]
    try:
        proc = subprocess.Popen(["docker", "load", "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise RegistryError(f"docker load: {exc.strerror}; is Docker installed?") from None
    blobs = [config, *dict.fromkeys(layers)]
    try:
        with tarfile.open(fileobj=proc.stdin, mode="w|") as tar, meter(f"loading {ref.repository}", sum(blob_path(layout, d).stat().st_size for d in blobs)) as bar:
            data = json.dumps(entry).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            for digest in blobs:
                path = blob_path(layout, digest)
                info = tar.gettarinfo(path, arcname=f"blobs/{digest.replace(':', '/')}")
                with path.open("rb") as blob:
                    tar.addfile(info, _Counted(blob, bar))
        proc.stdin.close()
    except BrokenPipeError:
        pass
    proc.stdin = None  # closed above: communicate must not flush it
    out, err = proc.communicate()
    if proc.returncode:
        raise RegistryError(f"docker load of {ref} failed: {err.decode(errors='replace').strip()}")
    found = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", f"{image}:{tag}"], capture_output=True, text=True)
    if found.stdout.strip() != config:
        raise RegistryError(f"docker loaded {ref} as {found.stdout.strip() or 'nothing'}, expected image id {config}")
    return image, tag


class _Counted:
    """A file whose reads advance a progress bar."""

    def __init__(self, handle, bar):
        self.handle, self.bar = handle, bar

    def read(self, size=-1):
        data = self.handle.read(size)
        self.bar.advance(len(data))
        return data


def push(layout: Path, ref: Reference, registry_host: str) -> str:
    """Push one image from the layout to a registry under the same repository; returns the image
    name there (the digest is unchanged). A partial index is pushed as its platform manifest."""
    registry = Registry(registry_host)
    manifest = image_manifest(layout, ref.digest)
    for blob in [manifest["config"], *manifest.get("layers", [])]:
        registry.push_blob(ref.repository, blob["digest"], blob_path(layout, blob["digest"]))
    body = blob_path(layout, ref.digest).read_bytes()
    top = json.loads(body)
    if "manifests" in top:
        raise RegistryError(f"{ref}: multi-platform images are restored with docker load, not pushed (use the Docker engine)")
    media = top.get("mediaType") or "application/vnd.oci.image.manifest.v1+json"
    registry.push_manifest(ref.repository, ref.tag, body, media)
    return f"{registry_host}/{ref.repository}"
