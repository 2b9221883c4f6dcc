"""The portal side of recast-archive: an embedded CAP-compatible deposit server (`serve`) and the
client that pushes a deposit to such a portal and pulls it back (`push`, `pull`).

Server: `server` (the Starlette app: CAP's deposit, record and bucket endpoints), `storage` (SQLite
metadata, files on disk), `metadata` (the deposit schema, validation, JSON Patch), `faults`
(test-only fault injection). Client: `config` (portal URL and token from flags, environment or
config file), `client` (HTTP with retries, the one place for error messages), `streams` (hashing
while bytes stream), `transfer` (push and pull). `cli`: the click commands.
"""
