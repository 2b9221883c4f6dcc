"""The portal side of recast-archive: an embedded CAP-compatible deposit server (`serve`) and the
client that pushes a deposit to such a portal and pulls it back (`push`, `pull`).

Modules: `storage` (SQLite metadata, files on disk), `server` (the Starlette app: CAP's deposit,
record and bucket endpoints), `faults` (test-only fault injection), `config` (portal URL and token
from flags, environment or config file), `client` (HTTP with retries, one place for error
messages), `transfer` (push and pull), `cli` (the click commands)."""
