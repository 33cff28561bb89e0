"""Walks every page of a tenant's entries by cursor with the client that
openapi-python-client generated from the served /openapi.json, written as its user would
write it: no `page`, each answer's `X-Next-Cursor` header sent back as `cursor` until an
answer has none. Prints a line a page and a summary, then the ids seen, in the order
seen, as a JSON array on the last line (tests/tests/generated_client.rs reads it).

usage: walk_by_cursor.py CLIENT_PARENT_DIR BASE_URL KEY TENANT_ID VARIANT PER_PAGE
VARIANT is `passkey` (the key in the `apiKey` header) or `admin` (a bearer key).
"""

import json
import sys
from uuid import UUID

parent, base_url, key, tenant, variant, per_page = sys.argv[1:7]
sys.path.insert(0, parent)

from auditlog_client import AuthenticatedClient  # noqa: E402
from auditlog_client.api.admin import admin_list_audit_logs  # noqa: E402
from auditlog_client.api.passkey_server import passkey_list_audit_logs  # noqa: E402
from auditlog_client.types import UNSET  # noqa: E402

if variant == "passkey":
    client = AuthenticatedClient(
        base_url=base_url, token=key, prefix="", auth_header_name="apiKey"
    )

    def fetch(cursor):
        return passkey_list_audit_logs.sync_detailed(
            tenant_id=UUID(tenant), client=client, per_page=int(per_page), cursor=cursor
        )

elif variant == "admin":
    client = AuthenticatedClient(base_url=base_url, token=key)

    def fetch(cursor):
        return admin_list_audit_logs.sync_detailed(
            client=client, per_page=int(per_page), cursor=cursor
        )

else:
    sys.exit(f"unknown variant {variant!r}: passkey or admin")

seen = []
cursor = UNSET
pages = 0
while True:
    pages += 1
    if pages > 10_000:
        sys.exit("the walk does not end")
    response = fetch(cursor)
    if response.status_code != 200:
        sys.exit(f"page {pages}: {int(response.status_code)} {response.content!r}")
    entries = response.parsed
    total = int(response.headers["X-Total-Count"])
    cursor = response.headers.get("X-Next-Cursor")
    print(
        f"{variant} page {pages}: {len(entries)} entries, X-Total-Count {total}, "
        f"X-Next-Cursor {cursor or '(none)'}"
    )
    seen.extend(str(entry.id) for entry in entries)
    if not cursor:
        break

twice = len(seen) - len(set(seen))
print(
    f"{variant}: {len(seen)} entries in {pages} pages, {twice} seen more than once, "
    f"X-Total-Count {total}"
)
print(json.dumps(seen))
