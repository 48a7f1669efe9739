"""Checkpoints in a DynamoDB table, with a lease so only one process runs a pipeline at a time.

Items (partition key `pipeline`, sort key `entry`): a head item holding the committed epoch and
the lease (owner, expiry), and the checkpoint itself in chunks under `epoch#N#i` (an item holds
at most 400 KB). A commit writes the new epoch's chunks, then moves the head to it with a
conditional write that also checks this process still holds the lease: the conditional write
is the commit point, and a process that lost its lease can never overwrite the winner's state.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

from botocore.exceptions import ClientError

from flowsql import aws
from flowsql.checkpoint.state import CheckpointState, state_from_bytes, state_to_bytes
from flowsql.errors import FlowsqlError

_CHUNK = 350_000
_HEAD = "head"


class LeaseHeldError(FlowsqlError):
    """Another process holds the pipeline's lease."""


class DynamoDBCheckpointStore:
    def __init__(
        self, table: str, pipeline: str, local_folder: Path, lease_seconds: float = 30.0, wait_seconds: float = 0.0
    ) -> None:
        self.table_name = table
        self.pipeline = pipeline
        self.local_folder = local_folder
        self.lease_seconds = lease_seconds
        self.wait_seconds = float(os.environ.get("FLOWSQL_LEASE_WAIT", wait_seconds))
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.client = aws.client("dynamodb", read_timeout=10.0)
        self.epoch = 0
        self._ensure_table()
        self._acquire()

    def describe(self) -> str:
        return f"dynamodb://{self.table_name} (pipeline {self.pipeline})"

    def staging_dir(self) -> Path:
        return self.local_folder / "staging"

    def _ensure_table(self) -> None:
        try:
            self.client.describe_table(TableName=self.table_name)
            return
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        self.client.create_table(
            TableName=self.table_name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pipeline", "AttributeType": "S"},
                {"AttributeName": "entry", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pipeline", "KeyType": "HASH"},
                {"AttributeName": "entry", "KeyType": "RANGE"},
            ],
        )
        self.client.get_waiter("table_exists").wait(TableName=self.table_name)

    def _acquire(self) -> None:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            now = time.time()
            try:
                self.client.update_item(
                    TableName=self.table_name,
                    Key=self._key(_HEAD),
                    UpdateExpression="SET lease_owner = :me, lease_expires = :until",
                    ConditionExpression=(
                        "attribute_not_exists(lease_owner) OR lease_owner = :me OR lease_expires < :now"
                    ),
                    ExpressionAttributeValues={
                        ":me": {"S": self.owner},
                        ":until": {"N": str(now + self.lease_seconds)},
                        ":now": {"N": str(now)},
                    },
                )
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
            if time.monotonic() >= deadline:
                head = self._head() or {}
                holder = head.get("lease_owner", {}).get("S", "?")
                until = float(head.get("lease_expires", {}).get("N", "0"))
                raise LeaseHeldError(
                    f"pipeline '{self.pipeline}' is already running: its checkpoint lease in {self.table_name} is held "
                    f"by {holder} for {max(0.0, until - time.time()):.0f} s more. Stop that process, or wait "
                    "(FLOWSQL_LEASE_WAIT=seconds makes this process wait for the lease)."
                )
            time.sleep(1.0)

    def _key(self, item: str) -> dict[str, dict[str, str]]:
        return {"pipeline": {"S": self.pipeline}, "entry": {"S": item}}

    def _head(self) -> dict | None:
        response = self.client.get_item(TableName=self.table_name, Key=self._key(_HEAD), ConsistentRead=True)
        return response.get("Item")

    def load(self) -> CheckpointState | None:
        head = self._head()
        if not head or "checkpoint_epoch" not in head:
            return None
        self.epoch = int(head["checkpoint_epoch"]["N"])
        chunks = int(head["chunk_count"]["N"])
        parts = []
        for index in range(chunks):
            item = self.client.get_item(
                TableName=self.table_name, Key=self._key(f"epoch#{self.epoch}#{index:05d}"), ConsistentRead=True
            )["Item"]
            parts.append(item["data"]["B"])
        return state_from_bytes(b"".join(parts))

    def commit(self, state: CheckpointState) -> None:
        blob = state_to_bytes(state)
        chunks = [blob[i : i + _CHUNK] for i in range(0, len(blob), _CHUNK)] or [b""]
        for index, chunk in enumerate(chunks):
            self.client.put_item(
                TableName=self.table_name, Item={**self._key(f"epoch#{state.epoch}#{index:05d}"), "data": {"B": chunk}}
            )
        now = time.time()
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(_HEAD),
                UpdateExpression="SET checkpoint_epoch = :epoch, chunk_count = :chunks, lease_expires = :until",
                ConditionExpression="lease_owner = :me",
                ExpressionAttributeValues={
                    ":epoch": {"N": str(state.epoch)},
                    ":chunks": {"N": str(len(chunks))},
                    ":until": {"N": str(now + self.lease_seconds)},
                    ":me": {"S": self.owner},
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise LeaseHeldError(
                    f"pipeline '{self.pipeline}' lost its checkpoint lease to another process; "
                    "this process stops without committing"
                ) from None
            raise
        self._delete_epoch(self.epoch)
        self.epoch = state.epoch

    def _delete_epoch(self, epoch: int) -> None:
        if epoch <= 0:
            return
        response = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="#p = :p AND begins_with(#e, :e)",
            ExpressionAttributeNames={"#p": "pipeline", "#e": "entry"},
            ExpressionAttributeValues={":p": {"S": self.pipeline}, ":e": {"S": f"epoch#{epoch}#"}},
            ProjectionExpression="#p, #e",
        )
        for item in response.get("Items", []):
            self.client.delete_item(TableName=self.table_name, Key=item)

    def reset(self) -> None:
        self._delete_epoch(self.epoch)
        self.client.update_item(
            TableName=self.table_name, Key=self._key(_HEAD), UpdateExpression="REMOVE checkpoint_epoch, chunk_count"
        )
        self.epoch = 0

    def close(self) -> None:
        """Give the lease back, so the next process need not wait for it to expire."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(_HEAD),
                UpdateExpression="SET lease_expires = :zero",
                ConditionExpression="lease_owner = :me",
                ExpressionAttributeValues={":zero": {"N": "0"}, ":me": {"S": self.owner}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
