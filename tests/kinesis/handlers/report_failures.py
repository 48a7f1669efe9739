"""A tumbling-window function that reports the records it cannot take instead of raising
(ReportBatchItemFailures): the state holds what it took before the first failed record, and
Lambda calls again from that record."""

import base64
import json


def lambda_handler(event, context):
    state = dict(event["state"])
    taken = state.get("ids", [])
    for record in event["Records"]:
        order = json.loads(base64.b64decode(record["kinesis"]["data"]))
        if order.get("reject"):
            state["ids"] = taken
            return {"state": state, "batchItemFailures": [{"itemIdentifier": record["kinesis"]["sequenceNumber"]}]}
        taken = [*taken, order["id"]]
    state["ids"] = taken
    return {"state": state}
