"""Drives the Vantage API through the Python client that openapi-python-client generated from
the served OpenAPI document (no hand edits): lists flows with a filter following the cursor to
the end, downloads a flow's packets, reads and updates an alert. Prints what it saw as JSON for
test/api/clients.test.ts to check. Usage: BASE=... TOKEN=... OUT=dir python python_client.py
"""

import json
import os
import sys

from vantage_client import AuthenticatedClient
from vantage_client.api.alerts import get_alerts_by_id, patch_alerts_by_id
from vantage_client.api.packets import get_flows_by_id_pcap
from vantage_client.api.records import get_alerts, get_flows
from vantage_client.models.patch_alerts_by_id_body import PatchAlertsByIdBody

client = AuthenticatedClient(base_url=os.environ["BASE"], token=os.environ["TOKEN"], raise_on_unexpected_status=True)
out = {}

flow_ids = []
pages = 0
cursor = None
while True:
    kwargs = {"client": client, "filter_": "proto = 6", "limit": 3, "after": "2000-01-01"}
    if cursor is not None:
        kwargs["cursor"] = cursor
    page = get_flows.sync(**kwargs)
    assert page is not None and hasattr(page, "items"), f"not a page: {page!r}"
    pages += 1
    flow_ids += [item.to_dict()["flow_id"] for item in page.items]
    cursor = page.next_ if hasattr(page, "next_") else page.next
    if cursor is None:
        break
out["pages"] = pages
out["flow_ids"] = flow_ids

res = get_flows_by_id_pcap.sync_detailed(client=client, id=flow_ids[0])
out["pcap_status"] = int(res.status_code)
out["pcap_type"] = res.headers.get("content-type")
path = os.path.join(os.environ["OUT"], "flow.pcap")
with open(path, "wb") as f:
    f.write(res.content)
out["pcap_path"] = path

alerts = get_alerts.sync(client=client, after="2000-01-01")
alert_id = alerts.items[0].to_dict()["alert_id"]
before = get_alerts_by_id.sync(client=client, id=alert_id).to_dict()
out["alert_before"] = before["alert"]["status"]
patch = PatchAlertsByIdBody.from_dict({"status": "closed", "notes": "closed by the python client"})
patched = patch_alerts_by_id.sync(client=client, id=alert_id, body=patch)
assert patched is not None, "PATCH answered nothing"
after = get_alerts_by_id.sync(client=client, id=alert_id).to_dict()
out["alert_after"] = after["alert"]["status"]
out["alert_notes"] = after["alert"]["notes"]

json.dump(out, sys.stdout)
