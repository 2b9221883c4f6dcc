"""Deposit metadata on the embedded portal: the deposit type's JSON Schema, validation as CAP does
it (internal fields dropped, `required` not enforced on drafts), and the JSON Patch subset
cap-client sends."""
from __future__ import annotations

import json

import jsonschema


class MetadataError(Exception):
    """Bad metadata: the server answers it with CAP's error body."""

    def __init__(self, status: int, message: str, errors: list | None = None):
        self.status, self.message, self.errors, self.headers = status, message, errors, None


INTERNAL = ("_deposit", "_access", "_experiment", "_fetched_from", "_user_edited", "_files", "general_title", "$schema", "$ana_type")
SCHEMA_HOST = "https://analysispreservation.cern.ch/schemas"

# The one deposit type this portal knows: a preserved workflow. Like CAP's schemas, `required` is not
# enforced on drafts, so none is declared; unknown top-level fields are refused.
SCHEMAS = {
    "recast-archive": {
        "fullname": "RECAST archive",
        "version": "0.0.1",
        "experiment": "RECAST",
        "deposit_schema": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "basic_info": {
                    "type": "object",
                    "properties": {
                        "analysis_title": {"type": "string"},
                        "abstract": {"type": "string"},
                    },
                },
                "workflows": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"workflow_title": {"type": "string"}, "workflow": {"type": "object"}},
                    },
                },
                "deposit": {
                    "type": "object",
                    "description": "what recast-archive push records about the bag it uploaded",
                    "properties": {
                        "format": {"type": "string"},
                        "layout": {"enum": ["files", "packed"]},
                        "payload_sha256": {"type": "string"},
                        "files": {"type": "integer"},
                        "bytes": {"type": "integer"},
                    },
                },
            },
        },
    }
}


def schema_url(name: str) -> str:
    return f"{SCHEMA_HOST}/deposits/records/{name}-v{SCHEMAS[name]['version']}.json"


def schema_by_url(url: str) -> str | None:
    return next((name for name in SCHEMAS if schema_url(name) == url), None)


def validated(schema: str, metadata) -> dict:
    """The metadata without CAP's internal fields, if it is valid for `schema` (else a 400 or 422
    with one error per field, as CAP answers)."""
    if not isinstance(metadata, dict):
        raise MetadataError(400, "The metadata must be a JSON object.")
    metadata = {k: v for k, v in metadata.items() if k not in INTERNAL}
    validator = jsonschema.Draft7Validator(SCHEMAS[schema]["deposit_schema"])
    errors = sorted(validator.iter_errors(metadata), key=lambda e: list(e.absolute_path))
    if errors:
        raise MetadataError(
            422, "Validation error. Try again with valid data",
            [{"field": list(e.absolute_path), "message": e.message} for e in errors],
        )
    return metadata


def apply_patch(document: dict, patch: list) -> dict:
    """RFC 6902's add, replace and remove (what cap-client sends), on a copy."""
    document = json.loads(json.dumps(document))
    if not isinstance(patch, list):
        raise MetadataError(400, "A JSON patch must be a list of operations.")
    for op in patch:
        try:
            parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
            parent = document
            for part in parts[:-1]:
                parent = parent[int(part)] if isinstance(parent, list) else parent[part]
            last = parts[-1]
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if op["op"] == "add":
                    parent.insert(index, op["value"])
                elif op["op"] == "replace":
                    parent[index] = op["value"]
                elif op["op"] == "remove":
                    del parent[index]
                else:
                    raise KeyError(op["op"])
            elif op["op"] in ("add", "replace"):
                if op["op"] == "replace" and last not in parent:
                    raise KeyError(last)
                parent[last] = op["value"]
            elif op["op"] == "remove":
                del parent[last]
            else:
                raise KeyError(op["op"])
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):
            raise MetadataError(400, f"Invalid JSON patch operation: {json.dumps(op)[:200]}") from None
    return document
