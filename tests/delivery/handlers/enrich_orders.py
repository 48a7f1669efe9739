"""A Firehose data-transformation function for order events, as it runs on Lambda: decode each
record, drop test orders, fail orders it cannot price, enrich the rest with the region and the
amount in cents, and return the region and status as partition keys."""

import base64
import json

REGIONS = {"DE": "europe", "FR": "europe", "US": "americas", "BR": "americas", "JP": "asia"}


def lambda_handler(event, context):
    output = []
    for record in event["records"]:
        order = json.loads(base64.b64decode(record["data"]).decode("utf-8"))
        if order["status"] == "test":
            output.append({"recordId": record["recordId"], "result": "Dropped", "data": record["data"]})
            continue
        try:
            if order["amount"] < 0:
                raise ValueError("negative amount")
            enriched = {
                "order_id": order["order_id"],
                "customer": order["customer"].upper(),
                "region": REGIONS[order["country"]],
                "amount_cents": round(order["amount"] * 100),
                "arrived_ms": record["approximateArrivalTimestamp"],
            }
        except (KeyError, ValueError) as error:
            print(f"order {order.get('order_id')}: {error}")
            output.append({"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]})
            continue
        payload = base64.b64encode((json.dumps(enriched) + "\n").encode("utf-8")).decode("utf-8")
        output.append(
            {
                "recordId": record["recordId"],
                "result": "Ok",
                "data": payload,
                "metadata": {"partitionKeys": {"region": enriched["region"], "status": order["status"]}},
            }
        )
    print(
        f"{context.function_name} {context.aws_request_id}: {len(event['records'])} records, "
        f"{context.get_remaining_time_in_millis()} ms left"
    )
    return {"records": output}
