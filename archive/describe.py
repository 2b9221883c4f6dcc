"""The deposit's descriptions for other tools: the Workflow RO-Crate metadata (written with the
`rocrate` library), recast-atlas's catalogue entry (`recast.yml`) and REANA's `reana.yaml`.
Formats: research/portal-api.md §3.1 (reana.yaml), §4.2 (recast.yml), §5.1 (Workflow RO-Crate)."""
from __future__ import annotations

from pathlib import Path

from rocrate.model.computationalworkflow import ComputationalWorkflow
from rocrate.model.computerlanguage import ComputerLanguage
from rocrate.model.contextentity import ContextEntity
from rocrate.rocrate import ROCrate
from ruamel.yaml import YAML

WORKFLOW_RO_CRATE = "https://w3id.org/workflowhub/workflow-ro-crate/1.1"


def write_yaml(path: Path, data: dict) -> None:
    yaml = YAML()
    yaml.default_flow_style = False
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(data, out)


def recast_entry(name: str, title: str, workflow: str, initdata: dict) -> dict:
    """A recast-atlas catalogue entry; without spec.toplevel recast reads ./specs beside it."""
    return {
        "name": f"recast-archive/{name}",
        "metadata": {"author": "recast-archive", "short_description": title},
        "spec": {"workflow": workflow},
        "example_inputs": {"default": {"initdata": initdata}},
    }


def reana_spec(initdata: dict, has_inputs: bool) -> dict:
    """reana.yaml: the deposit's data/ is the REANA workspace. The workflow is the resolved JSON
    (what recast-atlas submits too): REANA loads yadage specs with the workspace as toplevel, so
    the specs' relative $refs would not resolve from specs/."""
    inputs: dict = {"parameters": initdata, "directories": ["specs"]}
    if has_inputs:
        inputs["directories"].append("inputs")
        inputs["options"] = {"initdir": "inputs"}
    return {"version": "0.9.0", "inputs": inputs, "workflow": {"type": "yadage", "file": "workflow.json"}}


def write_crate(data: Path, title: str, workflow: str, files: list[str], images: list[dict], engines: dict) -> None:
    """ro-crate-metadata.json in ``data``: the yadage workflow as main entity, the emitted workflows,
    every other payload file, the images as ContainerImage entities. Only the metadata is written:
    the files are already in place."""
    crate = ROCrate()
    crate.name = title
    crate.license = "CC-BY-4.0"
    crate.root_dataset["conformsTo"] = [{"@id": WORKFLOW_RO_CRATE}]
    yadage = crate.add(ComputerLanguage(crate, identifier="#yadage", properties={
        "name": "yadage", "url": {"@id": "https://github.com/yadage/yadage"}}))
    main = crate.add(ComputationalWorkflow(crate, None, f"specs/{workflow}", properties={"name": title}))
    main.lang = yadage
    crate.mainEntity = main
    described = {f"specs/{workflow}", "ro-crate-metadata.json"}
    for engine, entry in sorted(engines.items()):
        if entry.get("file"):
            crate.add_workflow(None, entry["file"], lang=engine, properties={"name": f"{title} ({engine}, emitted by yadage2x)", "isBasedOn": {"@id": main.id}})
            described.add(entry["file"])
    for image in images:
        crate.add(ContextEntity(crate, f"#image-{image['digest'].split(':')[1][:16]}", properties={
            "@type": "ContainerImage", "name": image["reference"], "registry": image["registry"],
            "tag": image["tag"], "sha256": image["digest"].split(":")[1]}))
    for path in files:
        if path not in described and not path.startswith("images/blobs/"):
            crate.add_file(None, path)
    crate.metadata.write(data)
