"""The embedded portal: the part of CERN Analysis Preservation's REST API that deposits need, as a
Starlette app (served by uvicorn, see `cli.serve`).

What it speaks, from shared/research/portal-api.md (CAP's endpoints and what cap-client 1.4 sends):
deposits (create 201, get, metadata PUT/PATCH 200, delete 204, search with hits.hits), the deposit's
file list, actions (publish 202, permissions 201), records, buckets (object PUT 200 with an md5
checksum, GET streaming with ETag and Content-MD5, DELETE 204), /api/me and the JSON schemas.
Content negotiation on Accept as CAP does it (default JSON, application/basic+json,
application/permissions+json). Tokens: `Authorization: Bearer|OAuth2 <token>`, or `?access_token=`.

Access: a deposit's owner may do anything with it; others only what they were granted with the
permissions action (deposit-read < deposit-update < deposit-admin). A draft someone may not read is
403 (as CAP), its bucket and objects 404 (as invenio-files-rest). Published records, like CAP's
records within an experiment, are readable by every user of the portal and writable by none.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import mimetypes
from pathlib import Path
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .faults import Faults
from .metadata import SCHEMAS, MetadataError, apply_patch, schema_by_url, schema_url, validated
from .storage import ACTIONS, Deposit, Obj, Storage

MAX_KEY = 255  # invenio-files-rest's FILES_REST_OBJECT_KEY_MAX_LEN
MAX_JSON = 16 << 20  # a deposit's metadata (push sends workflow.json only below 4 MiB)
MAX_HEAD = 1 << 20  # a request's line and headers (a token is 43 characters)


def key_problem(key: str) -> str | None:
    """Why an object key is refused (None: it is fine). A key becomes a file path wherever a deposit
    is pulled or downloaded, so a key that could climb out of that folder (`..`, absolute, a
    backslash), that names one path two ways (`.`, empty parts) or that holds control characters
    (NUL, newlines) is refused on upload, download and delete alike."""
    if not key or len(key) > MAX_KEY:
        return f"Key must be 1 to {MAX_KEY} characters long."
    if "\\" in key or any(ord(c) < 32 or ord(c) == 127 for c in key):
        return "Key must not contain backslashes or control characters."
    if any(part in ("", ".", "..") for part in key.split("/")):
        return "Key must be a relative path without empty, '.' or '..' parts."
    return None


class PortalProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (what `serve` runs) with two limits it lacks, each a way for one
    client to hold the server's memory or connections for ever (its h11 protocol has the first, but
    moves large bodies at half the speed):
    - a request's line and headers are read for as long as the client sends them, all held in
      memory: past MAX_HEAD the request is answered 400 and the connection closed;
    - a client that stops sending in the middle of a request (a dead laptop, a cut network) is
      waited for without end: after `idle_timeout` seconds without a byte the connection is
      closed, so the application sees a disconnect and an upload's part file is removed.
      Not while uvicorn itself has paused reading (the server is the slow side then)."""
    idle_timeout = 60.0
    _in_head = _in_request = False
    _head_bytes = 0
    _last_data = 0.0
    _watch = None

    @classmethod
    def with_idle_timeout(cls, seconds: float) -> type["PortalProtocol"]:
        return type(cls.__name__, (cls,), {"idle_timeout": seconds})

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = self._in_request = True
        self._head_bytes = 0
        if self._watch is None:
            self._watch = self.loop.call_later(self.idle_timeout, self._check_idle)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_request = False
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        self._last_data = self.loop.time()
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():  # all of `data` was head (at most one
            self._head_bytes += len(data)                        # read too many, for a pipelined request)
            if self._head_bytes > MAX_HEAD:
                self.send_400_response("Request line and headers too large.")

    def _check_idle(self) -> None:
        self._watch = None
        if not self._in_request or self.transport.is_closing():
            return
        idle = self.loop.time() - self._last_data
        if idle >= self.idle_timeout and not self.flow.read_paused:
            self.transport.close()
        else:
            self._watch = self.loop.call_later(max(self.idle_timeout - idle, 0.1), self._check_idle)


class ObjectKeyConvertor(PathConvertor):
    """Starlette's `path` with newlines too (its `.*` stops at one): such a key reaches
    `key_problem` and is refused with 400, instead of matching no route at all (404)."""
    regex = "(?s:.*)"


register_url_convertor("objectkey", ObjectKeyConvertor())


class HTTPError(Exception):
    def __init__(self, status: int, message: str, errors: list | None = None, headers: dict | None = None):
        self.status, self.message, self.errors, self.headers = status, message, errors, headers


def error_response(request: Request, exc: HTTPError | MetadataError) -> JSONResponse:
    body = {"status": exc.status, "message": exc.message}
    if exc.errors:
        body["errors"] = exc.errors
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


class BlobResponse(FileResponse):
    chunk_size = 1 << 20  # Starlette's 64 KiB means one thread hop per 64 KiB: too slow for GB files


class BrokenResponse(Response):
    """Fault injection: start a response and then fail, which makes uvicorn close the connection
    mid-stream, as a crashing server or a broken network would."""

    def __init__(self, status: int, headers: dict, body: bytes):
        super().__init__(status_code=status, headers=headers)
        self._partial = body

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if self._partial:
            await send({"type": "http.response.body", "body": self._partial, "more_body": True})
        raise ConnectionAbortedError("fault injected: connection dropped")


class Portal:
    def __init__(self, storage: Storage, faults: Faults):
        self.storage, self.faults = storage, faults

    # auth and lookup ---------------------------------------------------------------------------
    def user(self, request: Request) -> str:
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() not in ("bearer", "oauth2"):
                token = ""
        else:
            token = request.query_params.get("access_token", "")
        email, expired = self.storage.user_for_token(token.strip()) if token.strip() else (None, False)
        if expired:
            raise HTTPError(401, "The token has expired: ask for a new one.")
        if email is None:
            raise HTTPError(401, "The server could not verify that you are authorized to access the URL requested.")
        return email

    def readable_deposit(self, request: Request, user: str, action: str = "deposit-read") -> Deposit:
        deposit = self.storage.deposit(request.path_params["pid"])
        if deposit is None:
            raise HTTPError(404, "PID does not exist.")
        if not self.storage.can(user, deposit, action):
            raise HTTPError(403, "You do not have a permission for this action.")
        return deposit

    def bucket_for(self, user: str, bucket_id: str, write: bool):
        """The bucket if `user` may read it (404 otherwise, as invenio-files-rest hides buckets)."""
        bucket = self.storage.bucket(bucket_id)
        if bucket is None:
            raise HTTPError(404, "Bucket does not exist.")
        deposit = self.storage.deposit(bucket.pid)
        if bucket.recid is None and not self.storage.can(user, deposit, "deposit-read"):
            raise HTTPError(404, "Bucket does not exist.")
        if write:
            if bucket.locked:
                raise HTTPError(403, "Bucket is locked for modifications.")
            if not self.storage.can(user, deposit, "deposit-update"):
                raise HTTPError(403, "You do not have a permission for this action.")
        return bucket

    # serialisers -------------------------------------------------------------------------------
    def object_json(self, base: str, obj: Obj) -> dict:
        url = f"{base}api/files/{obj.bucket}/{quote(obj.key)}"
        return {
            "key": obj.key, "size": obj.size, "checksum": obj.checksum,
            "mimetype": mimetypes.guess_type(obj.key)[0] or "application/octet-stream",
            "version_id": obj.version_id, "is_head": True, "delete_marker": False, "tags": obj.tags,
            "created": obj.created, "updated": obj.created, "bucket": obj.bucket,
            "links": {"self": url, "version": f"{url}?versionId={obj.version_id}", "uploads": f"{url}?uploads"},
        }

    def access_json(self, deposit: Deposit, prefix: str) -> dict:
        result = {f"{prefix}-{a.split('-')[1]}": {"users": [], "roles": []} for a in ACTIONS}
        for action in ACTIONS:
            result[f"{prefix}-{action.split('-')[1]}"]["users"].append({"email": deposit.owner, "profile": {}})
        for grant in self.storage.grants(deposit.pid):
            entry = result[f"{prefix}-{grant['action'].split('-')[1]}"]
            if grant["kind"] == "egroup":
                entry["roles"].append(grant["email"])
            else:
                entry["users"].append({"email": grant["email"], "profile": {}})
        return result

    def permissions_json(self, deposit: Deposit) -> dict:
        out = {a.split("-")[1]: {"users": [], "roles": []} for a in ACTIONS}
        for action in ACTIONS:
            out[action.split("-")[1]]["users"].append(deposit.owner)
        for grant in self.storage.grants(deposit.pid):
            out[grant["action"].split("-")[1]]["roles" if grant["kind"] == "egroup" else "users"].append(grant["email"])
        return {"permissions": out}

    def schema_json(self, name: str) -> dict:
        return {"fullname": SCHEMAS[name]["fullname"], "name": name, "version": SCHEMAS[name]["version"]}

    def deposit_json(self, request: Request, user: str, deposit: Deposit) -> dict:
        base = str(request.base_url)
        api = f"{base}api/deposits/{deposit.pid}"
        actions = ("publish", "edit", "discard", "permissions", "clone", "upload", "disconnect_webhook")
        body = {
            "id": deposit.pid, "type": "deposit", "revision": deposit.revision, "status": deposit.status,
            "schema": self.schema_json(deposit.schema), "experiment": SCHEMAS[deposit.schema]["experiment"],
            "metadata": deposit.metadata,
            "files": [self.object_json(base, o) for o in self.storage.objects(deposit.bucket)],
            "labels": [], "is_owner": user == deposit.owner,
            "created": deposit.created, "updated": deposit.updated,
            "created_by": {"email": deposit.owner, "profile": {}},
            "access": self.access_json(deposit, "deposit"),
            "links": {
                "self": api, "bucket": f"{base}api/files/{deposit.bucket}", "files": f"{api}/files",
                "html": f"{base}drafts/{deposit.pid}", **{a: f"{api}/actions/{a}" for a in actions},
            },
        }
        if deposit.recid:
            body["recid"] = deposit.recid
        return body

    def record_json(self, request: Request, user: str, recid: str) -> dict:
        record = self.storage.record(recid)
        deposit = self.storage.deposit(record.pid)
        base = str(request.base_url)
        return {
            "id": record.recid, "type": "record", "revision": 0, "status": "published",
            "schema": self.schema_json(deposit.schema), "experiment": SCHEMAS[deposit.schema]["experiment"],
            "metadata": record.metadata, "draft_id": record.pid, "labels": [], "is_owner": user == deposit.owner,
            "files": [self.object_json(base, o) for o in self.storage.objects(record.bucket)],
            "created": record.created, "updated": record.created,
            "created_by": {"email": deposit.owner, "profile": {}},
            "access": self.access_json(deposit, "record"),
            "links": {
                "self": f"{base}api/records/{recid}", "bucket": f"{base}api/files/{record.bucket}",
                "html": f"{base}published/{recid}",
            },
        }

    def negotiated(self, request: Request, full: dict, basic: dict, deposit: Deposit | None, status: int = 200,
                   headers: dict | None = None) -> JSONResponse:
        """CAP's serializers by Accept: default JSON, basic+json, permissions+json."""
        for item in request.headers.get("accept", "*/*").split(","):
            kind = item.split(";")[0].strip().lower()
            if kind in ("application/json", "*/*", "application/*", "application/form+json", ""):
                return JSONResponse(full, status, headers)
            if kind == "application/basic+json":
                return JSONResponse(basic, status, headers)
            if kind == "application/permissions+json" and deposit is not None:
                return JSONResponse(self.permissions_json(deposit), status, headers)
        raise HTTPError(406, "Invalid 'Accept' header: no serializer for it.")

    def deposit_response(self, request: Request, user: str, deposit: Deposit, status: int = 200, headers=None):
        basic = {"pid": deposit.pid, "metadata": deposit.metadata, "created": deposit.created, "updated": deposit.updated}
        if deposit.recid:
            basic["recid"] = deposit.recid
        return self.negotiated(request, self.deposit_json(request, user, deposit), basic, deposit, status, headers)


async def json_body(request: Request):
    """The request's JSON, refused (413) past MAX_JSON before it is all read: a body is held in
    memory and parsed on the event loop, so one huge body would stall every other request."""
    too_big = HTTPError(413, f"The request body is larger than {MAX_JSON >> 20} MiB.")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_JSON:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON:
            raise too_big
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise HTTPError(400, "The request body is not valid JSON.") from None


def create_app(data: Path, faults: Faults) -> Starlette:
    storage = Storage(data)
    storage.drop_crash_leftovers()
    portal = Portal(storage, faults)

    async def me(request: Request):
        user = portal.user(request)
        groups = [
            {"name": s["fullname"], "deposit_group": name, "schema_path": schema_url(name)}
            for name, s in SCHEMAS.items()
        ]
        return JSONResponse({"id": user, "email": user, "deposit_groups": groups, "profile": {}, "roles": []})

    async def jsonschema_view(request: Request):
        portal.user(request)
        name = request.path_params["name"]
        version = request.path_params.get("version")
        if name not in SCHEMAS or version not in (None, SCHEMAS[name]["version"]):
            raise HTTPError(404, "Schema not found.")
        schema = SCHEMAS[name]
        return JSONResponse({
            **portal.schema_json(name),
            "deposit_schema": schema["deposit_schema"], "record_schema": schema["deposit_schema"],
            "deposit_options": {}, "record_options": {}, "links": {"deposit": schema_url(name)},
        })

    async def deposits(request: Request):
        user = portal.user(request)
        if request.method == "GET":
            only_own = request.query_params.get("by_me", "").lower() in ("true", "1")
            found = storage.deposits_readable_by(user, only_own)
            return search_response(request, found, lambda d: portal.deposit_response(request, user, d))
        data = await json_body(request)
        if not isinstance(data, dict):
            raise HTTPError(400, "The deposit must be a JSON object.")
        if "$ana_type" in data:
            schema = data["$ana_type"]
            if not isinstance(schema, str) or schema not in SCHEMAS:
                raise HTTPError(400, f"Schema with name {schema} doesnt exist.")
        elif "$schema" in data:
            schema = schema_by_url(str(data["$schema"]))
            if schema is None:
                raise HTTPError(400, f"Schema {data['$schema']} doesnt exist.")
        else:
            raise HTTPError(400, "You have to specify either $schema or $ana_type")
        deposit = storage.create_deposit(user, schema, validated(schema, data))
        location = {"Location": f"{request.base_url}deposits/{deposit.pid}", "ETag": '"0"'}
        return portal.deposit_response(request, user, deposit, 201, location)

    def search_response(request: Request, items: list, render) -> JSONResponse:
        try:
            page = max(int(request.query_params.get("page", 1)), 1)
            size = max(int(request.query_params.get("size", 10)), 1)
        except ValueError:
            raise HTTPError(400, "page and size must be numbers.") from None
        # each hit in the serialisation the request asked for (cap-client asks for basic+json)
        hits = [json.loads(render(item).body) for item in items[(page - 1) * size: page * size]]
        return JSONResponse({"hits": {"hits": hits, "total": len(items)}, "links": {"self": str(request.url)}, "aggregations": {}})

    async def deposit_view(request: Request):
        user = portal.user(request)
        if request.method == "GET":
            return portal.deposit_response(request, user, portal.readable_deposit(request, user))
        if request.method == "DELETE":
            deposit = portal.readable_deposit(request, user, "deposit-admin")
            if deposit.status == "published":
                raise HTTPError(403, "Invalid action")
            storage.delete_deposit(deposit.pid)
            return Response(status_code=204)
        deposit = portal.readable_deposit(request, user, "deposit-update")
        if deposit.status == "published":
            raise HTTPError(403, "Invalid action")
        body = await json_body(request)
        if request.method == "PATCH":
            kind = request.headers.get("content-type", "").split(";")[0].strip()
            if kind != "application/json-patch+json":
                raise HTTPError(415, "Invalid Content-Type: a PATCH takes application/json-patch+json.")
            body = apply_patch(deposit.metadata, body)
        storage.update_metadata(deposit.pid, validated(deposit.schema, body))
        return portal.deposit_response(request, user, storage.deposit(deposit.pid))

    async def deposit_files(request: Request):
        user = portal.user(request)
        deposit = portal.readable_deposit(request, user)
        return JSONResponse([
            {"id": o.version_id, "filename": o.key, "filesize": o.size, "checksum": o.checksum}
            for o in storage.objects(deposit.bucket)
        ])

    async def action(request: Request):
        user = portal.user(request)
        name = request.path_params["action"]
        if name == "publish":
            deposit = portal.readable_deposit(request, user, "deposit-admin")
            if deposit.status == "published":
                raise HTTPError(403, "Invalid action")
            validated(deposit.schema, deposit.metadata)
            storage.publish(deposit.pid)
            return portal.deposit_response(request, user, storage.deposit(deposit.pid), 202)
        if name == "permissions":
            deposit = portal.readable_deposit(request, user, "deposit-admin")
            changes = await json_body(request)
            update_permissions(deposit, changes)
            return portal.deposit_response(request, user, deposit, 201)
        raise HTTPError(400, f"Action {name} is not supported by this portal (publish, permissions).")

    def update_permissions(deposit: Deposit, changes) -> None:
        if not isinstance(changes, list):
            raise HTTPError(400, "Permissions must be a list of changes.")
        for change in changes:
            if not isinstance(change, dict) or change.get("action") not in ACTIONS or change.get("op") not in ("add", "remove"):
                raise HTTPError(400, f"Invalid permission change: {json.dumps(change)[:200]}")
            kind = "egroup" if change.get("type") == "egroup" else "user"
            email = str(change.get("email", ""))
            if kind == "user" and email not in storage.users():
                raise HTTPError(400, "User with this mail does not exist.")
            if change["op"] == "add" and not storage.grant(deposit.pid, email, kind, change["action"]):
                raise HTTPError(400, "Permission already exist.")
            if change["op"] == "remove" and not storage.revoke(deposit.pid, email, kind, change["action"]):
                raise HTTPError(400, "Permission does not exist.")

    async def records(request: Request):
        user = portal.user(request)
        only_own = request.query_params.get("by_me", "").lower() in ("true", "1")
        found = [r.recid for r in storage.records(user if only_own else None)]
        return search_response(request, found, lambda recid: record_response(request, user, recid))

    def record_response(request: Request, user: str, recid: str) -> JSONResponse:
        full = portal.record_json(request, user, recid)
        basic = {"pid": recid, "recid": recid, "metadata": full["metadata"], "created": full["created"], "updated": full["updated"]}
        return portal.negotiated(request, full, basic, None)

    async def record_view(request: Request):
        user = portal.user(request)
        recid = request.path_params["recid"]
        if storage.record(recid) is None:
            raise HTTPError(404, "PID does not exist.")
        return record_response(request, user, recid)

    async def bucket_view(request: Request):
        user = portal.user(request)
        bucket = portal.bucket_for(user, request.path_params["bucket"], write=False)
        objects = storage.objects(bucket.id)
        url = f"{request.base_url}api/files/{bucket.id}"
        return JSONResponse({
            "id": bucket.id, "size": sum(o.size for o in objects), "locked": bucket.locked,
            "quota_size": None, "max_file_size": None,
            "links": {"self": url, "versions": f"{url}?versions", "uploads": f"{url}?uploads"},
            "contents": [portal.object_json(str(request.base_url), o) for o in objects],
        })

    async def object_view(request: Request):
        user = portal.user(request)
        key = request.path_params["key"]
        problem = key_problem(key)
        if problem:
            raise HTTPError(400, problem)
        if request.method == "GET":
            bucket = portal.bucket_for(user, request.path_params["bucket"], write=False)
            obj = storage.object(bucket.id, key)
            if obj is None:
                raise HTTPError(404, "Object does not exist.")
            return download(obj)
        bucket = portal.bucket_for(user, request.path_params["bucket"], write=True)
        if request.method == "DELETE":
            if storage.object(bucket.id, key) is None:
                raise HTTPError(404, "Object does not exist.")
            storage.delete_object(bucket.id, key)
            return Response(status_code=204)
        return await upload(request, bucket.id, key)

    def download(obj: Obj) -> Response:
        md5 = obj.checksum.split(":", 1)[1]
        headers = {
            "ETag": f'"{obj.checksum}"', "Content-MD5": md5,
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(obj.key.rsplit('/', 1)[-1])}",
        }
        if faults.take("download-500"):
            raise HTTPError(500, "Internal server error (injected fault).")
        if faults.take("download-truncate"):
            with open(storage.blob_path(obj.blob), "rb") as handle:
                half = handle.read(max(obj.size // 2, 0))
            return BrokenResponse(200, {**headers, "Content-Length": str(obj.size)}, half)
        return BlobResponse(storage.blob_path(obj.blob), headers=headers, media_type="application/octet-stream")

    async def upload(request: Request, bucket_id: str, key: str) -> Response:
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            raise HTTPError(400, "Missing Content-Length header (chunked uploads are not accepted).")
        length = int(length)
        if length < 1:
            raise HTTPError(400, "Files must be at least 1 byte long.")
        if faults.take("upload-500"):
            raise HTTPError(500, "Internal server error (injected fault).")
        if faults.take("upload-429"):
            raise HTTPError(429, "Too many requests (injected fault).", headers={"Retry-After": "0"})
        drop = faults.take("upload-drop")
        tags = dict(parse_qsl(request.headers.get("x-cap-file-tags", "")))
        blob, part = storage.new_upload()
        try:
            received, md5 = await receive_body(request, part, length // 2 if drop else None)
            if drop or received != length:
                part.unlink()
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        if drop:
            return BrokenResponse(500, {"Content-Length": "100"}, b"")
        if received != length:
            raise HTTPError(400, f"Received {received} bytes, Content-Length said {length}.")
        obj = storage.commit_upload(bucket_id, key, blob, part, received, md5, tags)
        if obj is None:  # published or deleted while the body arrived
            if storage.bucket(bucket_id) is None:
                raise HTTPError(404, "Bucket does not exist.")
            raise HTTPError(403, "Bucket is locked for modifications.")
        if faults.take("upload-bad-checksum"):
            obj.checksum = "md5:" + hashlib.md5(b"injected fault").hexdigest()
        return JSONResponse(portal.object_json(str(request.base_url), obj), headers={"ETag": f'"{obj.checksum}"'})

    async def receive_body(request: Request, part: Path, stop_after: int | None) -> tuple[int, str]:
        """Stream the body to `part`, hashing it. Writing and hashing run in a worker thread on one
        batch while the event loop receives the next, so the two overlap on two cores."""
        md5, received = hashlib.md5(), 0
        pending: asyncio.Future | None = None
        batch: list[bytes] = []
        batched = 0

        def write(handle, data: bytes) -> None:
            handle.write(data)
            md5.update(data)

        loop = asyncio.get_running_loop()
        with open(part, "wb") as handle:
            try:
                async for chunk in request.stream():
                    batch.append(chunk)
                    batched += len(chunk)
                    if batched >= 1 << 20:
                        if pending is not None:
                            await pending
                        pending = loop.run_in_executor(None, write, handle, b"".join(batch))
                        batch, received, batched = [], received + batched, 0
                    if stop_after is not None and received + batched >= stop_after:
                        break
            finally:
                if pending is not None:
                    await pending
            write(handle, b"".join(batch))
        return received + batched, md5.hexdigest()

    async def not_found(request: Request, exc):
        return JSONResponse({"status": 404, "message": "The requested URL was not found on the server."}, 404)

    async def crash(request: Request, exc: Exception):
        return JSONResponse({"status": 500, "message": "Internal server error."}, 500)

    def guarded(endpoint):
        async def run(request: Request):
            if faults.take("api-500"):
                raise HTTPError(500, "Internal server error (injected fault).")
            return await endpoint(request)
        return run

    routes = [
        Route("/api/me", guarded(me)),
        Route("/api/jsonschemas/{name}", guarded(jsonschema_view)),
        Route("/api/jsonschemas/{name}/{version}", guarded(jsonschema_view)),
        Route("/api/deposits/", guarded(deposits), methods=["GET", "POST"]),
        Route("/api/deposits/{pid}", guarded(deposit_view), methods=["GET", "PUT", "PATCH", "DELETE"]),
        Route("/api/deposits/{pid}/files", guarded(deposit_files)),
        Route("/api/deposits/{pid}/actions/{action}", guarded(action), methods=["POST"]),
        Route("/api/records/", guarded(records)),
        Route("/api/records/{recid}", guarded(record_view)),
        Route("/api/files/{bucket}", guarded(bucket_view)),
        Route("/api/files/{bucket}/{key:objectkey}", object_view, methods=["GET", "PUT", "DELETE"]),
    ]
    handlers = {HTTPError: error_response, MetadataError: error_response, 404: not_found, 500: crash}
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        storage.close()

    return Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
