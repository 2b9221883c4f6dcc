"""recast-archive pack | verify | run against real parts on loopback: Debian's docker-registry
(started here through scripts/registry.sh), the Docker engine (scripts/docker.sh), images built here.

The examples name Docker Hub images (busybox); each test copies an example and points its images at
the loopback registry, where a test image (busybox plus one layer of its own, so that deleting it
from Docker really deletes it) was pushed.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import main as archive_main
from archive.pin import pin_text, unpinned, uses
from yadage2x import capture
from yadage2x.compare import compare
from yadage2x.load.source import parse_text

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
VALIDATORS = ROOT / ".venv-validators" / "bin"


def docker_or_skip():
    if not os.environ.get("YADAGE2X_DOCKER"):
        pytest.skip("no Docker engine: scripts/test.sh starts one (scripts/docker.sh up) and sets YADAGE2X_DOCKER=1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRegistry:
    """A docker-registry on 127.0.0.1, started and stopped through scripts/registry.sh."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.host = f"127.0.0.1:{self.port}"

    def up(self, auth: str | None = None):
        if not shutil.which("docker-registry") and os.geteuid() != 0 and not os.environ.get("CI"):
            pytest.skip("Debian's docker-registry is not installed and installing it needs root (scripts/registry.sh)")
        subprocess.run([ROOT / "scripts" / "registry.sh", "up", self.folder, str(self.port), *([auth] if auth else [])], check=True)

    def down(self):
        subprocess.run([ROOT / "scripts" / "registry.sh", "down", self.folder], check=True)


@pytest.fixture
def registry(tmp_path_factory):
    reg = LocalRegistry(tmp_path_factory.mktemp("registry"))
    reg.up()
    yield reg
    reg.down()


@pytest.fixture
def test_image(registry, tmp_path):
    """busybox plus a layer of its own, pushed as <registry>/examples/busybox:latest; removed from
    Docker at the end."""
    docker_or_skip()
    name = f"{registry.host}/examples/busybox:latest"
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(f"FROM busybox:latest\nRUN echo {registry.port} > /etc/recast-archive-test\n")
    subprocess.run(["docker", "build", "-q", "-t", name, tmp_path / "ctx"], check=True, capture_output=True)
    subprocess.run(["docker", "push", name], check=True, capture_output=True)
    yield name
    drop_images(registry.host)


def drop_images(host: str) -> None:
    """Remove from Docker the test image pushed to ``host`` and its restored copies, by id."""
    listed = subprocess.run(["docker", "images", "--format", "{{.Repository}} {{.ID}}"], capture_output=True, text=True).stdout
    ids = {line.split()[1] for line in listed.splitlines() if line.startswith((f"{host}/", "recast-archive.local/examples/"))}
    if ids:
        subprocess.run(["docker", "rmi", "-f", *ids], capture_output=True)


def example_copy(name: str, host: str, into: Path) -> Path:
    """The example, its busybox images pointed at the loopback registry."""
    target = into / name
    shutil.copytree(EXAMPLES / name, target)
    for spec in target.glob("*.yml"):
        text = spec.read_text()
        spec.write_text(re.sub(r"image: busybox\b", f"image: {host}/examples/busybox", text))
    return target


def archive(*args) -> tuple[int, str, str]:
    result = CliRunner().invoke(archive_main, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def deposit(registry, test_image, tmp_path):
    """dynamic-mapreduce packed with its image; returns (deposit, example copy)."""
    example = example_copy("dynamic-mapreduce", registry.host, tmp_path)
    code, out, err = archive("pack", example / "workflow.yml", "-t", example, "--inputs", example / "input.yml", "--with-images", "-o", tmp_path / "deposit")
    assert code == 0, err
    return tmp_path / "deposit", example


# -- the end-to-end story ------------------------------------------------------------------------

def test_deposit_reruns_after_registry_and_images_are_gone(deposit, registry, test_image, tmp_path):
    from yadage2x.reference import run as run_yadage

    dep, example = deposit
    inputs = json.loads((dep / "data" / "recast-archive.json").read_text())["parameters"]
    original = run_yadage(example / "workflow.yml", example, tmp_path / "original", inputs, docker=True)
    assert original.capture["status"] == "success"

    image_id = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", test_image], capture_output=True, text=True, check=True).stdout.strip()
    registry.down()  # the registry has lost the image...
    drop_images(registry.host)  # ...and so has Docker
    assert subprocess.run(["docker", "image", "inspect", image_id], capture_output=True).returncode != 0

    code, out, err = archive("run", dep, "--engine", "yadage", "-w", tmp_path / "rerun")
    assert code == 0, err
    assert "restored" in err and f"results in {tmp_path / 'rerun' / 'yadage'}" in out
    rerun = capture.read(tmp_path / "rerun" / "capture.json")
    assert rerun["status"] == "success"
    assert compare(original.capture, rerun) == []
    assert compare(capture.read(example / "capture.json"), rerun) == []  # and what yadage gave on the host
    log = (tmp_path / "rerun" / "yadage.yadage.log").read_text()
    assert "recast-archive.local/examples/busybox" in log  # the restored image ran
    assert archive("verify", dep)[0] == 0  # running did not touch the deposit


def test_run_with_a_new_parameter_and_on_snakemake(deposit, tmp_path):
    dep, _ = deposit
    code, out, err = archive("run", dep, "--engine", "yadage", "-p", "nlines=4", "-w", tmp_path / "new")
    assert code == 0, err
    total = (tmp_path / "new" / "yadage" / "reduce" / "total.txt").read_text()
    assert "30" in total  # 1+4+9+16
    code, out, err = archive("run", dep, "--engine", "snakemake", "-p", "nlines=4", "-w", tmp_path / "smk")
    assert code == 0, err
    assert compare(capture.read(tmp_path / "new" / "capture.json"), capture.read(tmp_path / "smk" / "capture.json")) == []


def test_run_on_cwl_in_docker_after_registry_and_images_are_gone(deposit, registry, test_image, tmp_path):
    dep, example = deposit
    engines = json.loads((dep / "data" / "recast-archive.json").read_text())["engines"]
    if "file" not in engines["cwl"]:  # packed without the CWL emitter: run says so, in one line
        code, out, err = archive("run", dep, "--engine", "cwl", "-w", tmp_path / "cwl")
        assert code == 2 and err.count("\n") == 1
        assert "cwl emitter not available" in err and not (tmp_path / "cwl").exists()
        return
    assert (dep / "data" / engines["cwl"]["file"]).read_text().count("DockerRequirement")
    registry.down()
    drop_images(registry.host)
    code, out, err = archive("run", dep, "--engine", "cwl", "-w", tmp_path / "cwl")
    assert code == 0, err
    assert compare(capture.read(example / "capture.json"), capture.read(tmp_path / "cwl" / "capture.json")) == []
    assert "recast-archive.local/examples/busybox" in (tmp_path / "cwl" / "cwl" / "cwltool.log").read_text()


def test_restore_into_another_registry_keeps_the_digest(deposit, tmp_path_factory, tmp_path):
    dep, _ = deposit
    other = LocalRegistry(tmp_path_factory.mktemp("registry2"))
    other.up()
    try:
        code, out, err = archive("run", dep, "--registry", other.host, "-w", tmp_path / "rerun")
        assert code == 0, err
        lock = json.loads((dep / "data" / "recast-archive.json").read_text())["images"][0]
        import requests

        head = requests.head(f"http://{other.host}/v2/{lock['repository']}/manifests/{lock['tag']}",
                             headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"})
        assert head.headers["Docker-Content-Digest"] == lock["digest"]
    finally:
        other.down()
        drop_images(other.host)


# -- what the deposit holds --------------------------------------------------------------------------

def test_deposit_layout_and_bagit_python_accepts_it(deposit):
    import bagit

    dep, example = deposit
    bag = bagit.Bag(str(dep))
    bag.validate()  # the Library of Congress implementation agrees with ours
    assert (dep / "bagit.txt").read_text().startswith("BagIt-Version: 1.0\n")
    data = dep / "data"
    assert (data / "original" / "specs" / "workflow.yml").read_bytes() == (example / "workflow.yml").read_bytes()
    pinned = (data / "specs" / "workflow.yml").read_text()
    assert re.findall(r'imagetag: "latest@sha256:[0-9a-f]{64}"', pinned)
    manifest = json.loads((data / "recast-archive.json").read_text())
    assert manifest["images_included"] and manifest["images"][0]["digest"] in pinned
    crate = json.loads((data / "ro-crate-metadata.json").read_text())
    entities = {e["@id"]: e for e in crate["@graph"]}
    assert entities["./"]["mainEntity"] == {"@id": "specs/workflow.yml"}
    assert "ComputationalWorkflow" in entities["specs/workflow.yml"]["@type"]
    assert any(e.get("@type") == "ContainerImage" for e in entities.values())
    assert (data / "snakemake" / "Snakefile").is_file()
    assert 'docker://' in (data / "snakemake" / "Snakefile").read_text() or manifest["engines"]["snakemake"].get("file")
    resolved = json.loads((data / "workflow.json").read_text())
    assert set(resolved) == {"stages"}
    assert "@sha256:" in json.dumps(resolved)


def test_reana_and_recast_validate_the_deposit(deposit):
    if not (VALIDATORS / "reana-client").exists():
        if os.environ.get("CI"):
            pytest.fail(".venv-validators missing: scripts/setup.sh test makes it")
        pytest.skip(".venv-validators missing: run scripts/setup.sh test")
    dep, _ = deposit
    data = dep / "data"
    reana = subprocess.run([VALIDATORS / "reana-client", "validate", "-f", "reana.yaml"], cwd=data, capture_output=True, text=True)
    assert reana.returncode == 0 and "Valid REANA specification file" in reana.stdout, reana.stdout + reana.stderr
    env = dict(os.environ, RECAST_ATLAS_CATALOGUE=str(data))
    listed = subprocess.run([VALIDATORS / "recast", "catalogue", "ls"], env=env, capture_output=True, text=True)
    assert f"recast-archive/{dep.name}" in listed.stdout
    check = subprocess.run([VALIDATORS / "recast", "catalogue", "check", f"recast-archive/{dep.name}"], env=env, capture_output=True, text=True)
    assert check.returncode == 0 and "looks good" in check.stdout, check.stdout + check.stderr


# -- verify catches every kind of damage, naming the file --------------------------------------------

def damaged(deposit, tmp_path) -> Path:
    copy = tmp_path / "damaged"
    shutil.copytree(deposit[0], copy)
    return copy


def verify_errors(path: Path) -> list[str]:
    code, out, err = archive("verify", path)
    assert code == 1
    return err.splitlines()


def test_verify_catches_a_corrupt_byte(deposit, tmp_path):
    dep = damaged(deposit, tmp_path)
    blob = max((dep / "data" / "images" / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    raw = bytearray(blob.read_bytes())
    raw[len(raw) // 2] ^= 1
    blob.write_bytes(bytes(raw))
    assert verify_errors(dep) == [f"{blob}: sha256 differs from manifest-sha256.txt (file changed or corrupt)"]


def test_verify_catches_a_deleted_and_an_added_file(deposit, tmp_path):
    dep = damaged(deposit, tmp_path)
    (dep / "data" / "original" / "specs" / "input.yml").unlink(missing_ok=True)
    (dep / "data" / "reana.yaml").unlink()
    (dep / "data" / "specs" / "extra.yml").write_text("stages: []\n")
    errors = verify_errors(dep)
    assert f"{dep / 'data' / 'reana.yaml'}: listed in manifest-sha256.txt but missing" in errors
    assert f"{dep / 'data' / 'specs' / 'extra.yml'}: not listed in manifest-sha256.txt (added after packing?)" in errors


def test_verify_catches_a_tampered_digest_even_with_rewritten_checksums(deposit, tmp_path):
    from archive import bag

    dep = damaged(deposit, tmp_path)
    spec = dep / "data" / "specs" / "workflow.yml"
    text = spec.read_text()
    tampered = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, text, count=1)
    spec.write_text(tampered)
    assert verify_errors(dep) == [f"{spec}: sha256 differs from manifest-sha256.txt (file changed or corrupt)"] + [
        e for e in verify_errors(dep)[1:]]
    assert any("differs from the image lock" in e and str(spec) in e for e in verify_errors(dep))
    # a tamperer who also rewrites the bag's checksums is still caught, by the image lock
    payload = {}
    for line in (dep / "manifest-sha256.txt").read_text().splitlines():
        sha, path = line.split("  ", 1)
        payload[path] = (os.path.getsize(dep / path), bag.hash_file(dep / path)[1] if path == "data/specs/workflow.yml" else sha)
    bag.write_tag_files(dep, payload, "tamperer")
    errors = verify_errors(dep)
    assert len(errors) >= 1 and all(str(spec) in e and "image lock" in e for e in errors)


def test_verify_catches_a_pinned_spec_that_changed_more_than_digests(deposit, tmp_path):
    from archive import bag

    dep = damaged(deposit, tmp_path)
    spec = dep / "data" / "specs" / "workflow.yml"
    spec.write_text(spec.read_text().replace("awk", "gawk", 1))
    payload = {}
    for line in (dep / "manifest-sha256.txt").read_text().splitlines():
        sha, path = line.split("  ", 1)
        payload[path] = bag.hash_file(dep / path)
    bag.write_tag_files(dep, payload, "tamperer")
    assert verify_errors(dep) == [f"{spec}: differs from {dep / 'data' / 'original' / 'specs' / 'workflow.yml'} in more than image digests"]


def test_verify_catches_a_missing_image_blob(deposit, tmp_path):
    from archive import bag

    dep = damaged(deposit, tmp_path)
    layer = max((dep / "data" / "images" / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    layer.unlink()
    payload = {}
    for line in (dep / "manifest-sha256.txt").read_text().splitlines():
        sha, path = line.split("  ", 1)
        if (dep / path).exists():
            payload[path] = bag.hash_file(dep / path)
    bag.write_tag_files(dep, payload, "tamperer")
    errors = verify_errors(dep)
    assert errors == [f"{layer}: missing (needed by {json.loads((dep / 'data' / 'recast-archive.json').read_text())['images'][0]['reference']})"]


def test_run_refuses_a_deposit_that_fails_verification(deposit, tmp_path):
    dep = damaged(deposit, tmp_path)
    (dep / "data" / "recast.yml").write_text("tampered\n")
    code, out, err = archive("run", dep, "-w", tmp_path / "run")
    assert code == 2 and err.count("\n") == 1
    assert "refused, it fails verification" in err and "recast.yml" in err
    assert not (tmp_path / "run").exists()


# -- pack's errors leave nothing behind ---------------------------------------------------------------

def test_pack_an_image_the_registry_does_not_know(registry, tmp_path):
    example = example_copy("helloworld", registry.host, tmp_path)
    code, out, err = archive("pack", example / "workflow.yml", "-t", example, "--inputs", example / "input.yml", "-o", tmp_path / "dep")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: steps.yml:") and "not found in the registry" in err
    assert not (tmp_path / "dep").exists() and not list(tmp_path.glob(".dep*"))


def test_pack_an_invalid_workflow(tmp_path, write):
    wf = write("wf/workflow.yml", "stages:\n  - name: a\n    dependencies: [init]\n")
    code, out, err = archive("pack", wf, "-o", tmp_path / "dep")
    assert code == 2 and "wf/workflow.yml:" in err and "Traceback" not in err
    assert not (tmp_path / "dep").exists()


def test_verify_something_that_is_not_a_deposit(tmp_path):
    (tmp_path / "x").mkdir()
    assert verify_errors(tmp_path / "x") == [f"{tmp_path / 'x' / 'bagit.txt'}: missing (not a BagIt bag)"]


# -- pinning keeps everything but the digests ---------------------------------------------------------

def test_pin_text_edits_only_image_tags():
    text = (
        "a:\n  environment:\n    environment_type: docker-encapsulated\n    image: busybox  # the shell\n"
        "b:\n  environment: {environment_type: docker-encapsulated, image: 'python', imagetag: '3.12-slim'}\n"
        "c: [{environment_type: docker-encapsulated, image: 'reg.example:5000/x/y', imagetag: v1}]\n"
    )
    digest = "sha256:" + "ab" * 32
    pins = {(u.image, u.reference_tag): f"{u.reference_tag}@{digest}" for u in uses("s.yml", text)}
    pinned = pin_text("s.yml", text, pins)
    assert pinned.splitlines()[4] == f'    imagetag: "latest@{digest}"'
    assert f"imagetag: \"3.12-slim@{digest}\"}}" in pinned and f'imagetag: "v1@{digest}"}}]' in pinned
    assert "# the shell" in pinned
    assert unpinned(parse_text(pinned, "p")) == unpinned(parse_text(text, "o"))
    assert all(u.imagetag.endswith(digest) for u in uses("s.yml", pinned))


def test_pack_never_overwrites(tmp_path, write):
    wf = write("wf/workflow.yml", "stages: []\n")
    (tmp_path / "dep").mkdir()
    (tmp_path / "dep" / "mine.txt").write_text("keep")
    code, out, err = archive("pack", wf, "-o", tmp_path / "dep")
    assert code == 2 and "exists" in err and (tmp_path / "dep" / "mine.txt").read_text() == "keep"


def test_verify_names_a_manifest_that_lost_its_shape(tmp_path, write):
    from archive import bag

    wf = write("wf/workflow.yml", "stages: []\n")
    assert archive("pack", wf, "-o", tmp_path / "dep")[0] == 0
    dep = tmp_path / "dep"
    manifest = dep / "data" / "recast-archive.json"
    data = json.loads(manifest.read_text())
    del data["images"]
    manifest.write_text(json.dumps(data))
    bag.write_tag_files(dep, {p: bag.hash_file(dep / p) for p in bag.payload_files(dep)}, "tamperer")
    assert verify_errors(dep) == [f"{manifest}: (top): 'images' is a required property"]


def test_inputs_travel_in_the_deposit(registry, test_image, tmp_path):
    """init-files: init data naming files in the init directory; the folder given to
    --input-files becomes the deposit's inputs/, and the re-run reads them there."""
    example = example_copy("init-files", registry.host, tmp_path)
    code, out, err = archive("pack", example / "workflow.yml", "-t", example, "--inputs", example / "input.yml",
                             "--input-files", example / "inputs", "-o", tmp_path / "dep")
    assert code == 0, err
    data = tmp_path / "dep" / "data"
    assert sorted(p.name for p in (data / "inputs").iterdir()) == sorted(p.name for p in (example / "inputs").iterdir())
    assert json.loads((data / "recast-archive.json").read_text())["inputs"] == "inputs"
    code, out, err = archive("run", tmp_path / "dep", "-w", tmp_path / "rerun")  # images pulled by digest
    assert code == 0, err
    assert compare(capture.read(example / "capture.json"), capture.read(tmp_path / "rerun" / "capture.json")) == []


def test_two_inputs_on_one_name(tmp_path, write):
    wf = write("wf/workflow.yml", "stages: []\n")
    write("a/x.txt", "1")
    write("b/x.txt", "2")
    code, out, err = archive("pack", wf, "--input-files", tmp_path / "a", "--input-files", tmp_path / "b", "-o", tmp_path / "dep")
    assert code == 2 and "inputs/x.txt" in err and not (tmp_path / "dep").exists()


@pytest.mark.parametrize("image, tag, expected", [
    ("busybox", "latest", "docker.io/library/busybox:latest"),
    ("docker.io/busybox", "1.36", "docker.io/library/busybox:1.36"),
    ("index.docker.io/atlas/analysisbase", "21.2", "docker.io/atlas/analysisbase:21.2"),
    ("gitlab-registry.cern.ch/recast-atlas/exotics/x", "v1", "gitlab-registry.cern.ch/recast-atlas/exotics/x:v1"),
    ("localhost:5000/a/b", "t", "localhost:5000/a/b:t"),
    ("127.0.0.1:5000/a", "t@sha256:" + "0" * 64, "127.0.0.1:5000/a:t@sha256:" + "0" * 64),
])
def test_references_normalise_as_docker_does(image, tag, expected):
    from archive.registry import parse_reference

    assert str(parse_reference(image, tag)) == expected


@pytest.mark.parametrize("image, tag", [("busybox", "t@sha256:abc"), ("Busybox", "1"), ("busybox", "bad tag")])
def test_bad_references(image, tag):
    from archive.registry import RegistryError, parse_reference

    with pytest.raises(RegistryError):
        parse_reference(image, tag)


def test_rewrite_points_flow_environments_at_restored_images():
    from archive.pin import rewrite

    text = "env: {environment_type: docker-encapsulated, image: busybox}\n"
    out = rewrite("s.yml", text, lambda image, tag: ("local/busybox", "latest-1"))
    assert out == 'env: {environment_type: docker-encapsulated, image: "local/busybox", imagetag: "latest-1"}\n'
