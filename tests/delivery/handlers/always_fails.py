"""A transformation function whose lookup service is down: every invocation raises. Each call
leaves a line in the file named by CALLS_FILE, so a test can count the attempts."""

import os


def lambda_handler(event, context):
    with open(os.environ["CALLS_FILE"], "a") as calls:
        calls.write(f"{event['invocationId']} {len(event['records'])}\n")
    raise ConnectionError("lookup service unavailable")
