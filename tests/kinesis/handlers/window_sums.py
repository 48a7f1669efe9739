"""A Lambda function for a Kinesis event source mapping with a tumbling window, as it would be
deployed: it sums each order's amount per shard and window, carrying the sum in the state, and
reports the totals on the window's final call. An order whose amount is not a number makes the
call fail (with bisect on error, Lambda narrows the failure down to that record)."""

import base64
import json


def lambda_handler(event, context):
    state = event["state"]
    if event["isFinalInvokeForWindow"]:
        # The window is complete: what a deployed function would write to a table.
        print(f"window {event['window']['start']} of {event['shardId']}: {state}")
        return {"state": state}
    total = state.get("total", 0)
    count = state.get("count", 0)
    for record in event["Records"]:
        order = json.loads(base64.b64decode(record["kinesis"]["data"]))
        try:
            amount = int(order["amount"])
        except ValueError as exc:
            raise ValueError(f"order {order['id']} has no numeric amount: {order['amount']!r}") from exc
        total += amount
        count += 1
    return {"state": {"total": total, "count": count}, "batchItemFailures": []}
