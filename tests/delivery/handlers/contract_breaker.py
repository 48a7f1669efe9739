"""A transformation function with bugs, one kind per record: each record's `kind` says which
mistake its answer makes, so a test can see how each is treated."""

import base64
import json


def lambda_handler(event, context):
    output = []
    for record in event["records"]:
        kind = json.loads(base64.b64decode(record["data"]))["kind"]
        answer = {"recordId": record["recordId"], "result": "Ok", "data": record["data"]}
        if kind == "twice":
            output += [answer, dict(answer)]
        elif kind == "forgotten":
            continue
        elif kind == "stranger":
            output.append({**answer, "recordId": "not-" + record["recordId"]})
        elif kind == "unknown-result":
            output.append({**answer, "result": "Maybe"})
        elif kind == "not-base64":
            output.append({**answer, "data": "%%% not base64 %%%"})
        elif kind == "no-key":
            output.append(answer)
        else:
            output.append({**answer, "metadata": {"partitionKeys": {"kind": kind}}})
    return {"records": output}
