"""Change records in the shapes the source systems document, one JSON object per line.

Each block names the page its shape comes from; values follow those examples (the `customers`
table of the Debezium tutorials, the `Id`/`Message` item of the AWS Lambda DynamoDB example).
"""

from __future__ import annotations

import json

# Debezium PostgreSQL connector, "Data change events" -> "Change event values": create, update and
# delete events of `customers (id SERIAL, first_name, last_name, email, PRIMARY KEY (id))` with
# REPLICA IDENTITY DEFAULT, so update and delete carry only the key in `before`.
# https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-change-event-values
_PG_SOURCE = {
    "version": "2.5.4.Final",
    "connector": "postgresql",
    "name": "PostgreSQL_server",
    "snapshot": "false",
    "db": "postgres",
    "schema": "public",
    "table": "customers",
    "xmin": None,
}
DEBEZIUM_POSTGRES = [
    {
        "before": None,
        "after": {"id": 1, "first_name": "Anne", "last_name": "Kretchmar", "email": "annek@noanswer.org"},
        "source": {
            **_PG_SOURCE,
            "ts_ms": 1559033904863,
            "sequence": '["24023119","24023128"]',
            "txId": 555,
            "lsn": 24023128,
        },
        "op": "c",
        "ts_ms": 1559033904863,
    },
    {
        "before": {"id": 1},
        "after": {"id": 1, "first_name": "Anne Marie", "last_name": "Kretchmar", "email": "annek@noanswer.org"},
        "source": {
            **_PG_SOURCE,
            "ts_ms": 1559033904863,
            "sequence": '["24023119","24023128"]',
            "txId": 556,
            "lsn": 24023160,
        },
        "op": "u",
        "ts_ms": 1465584025523,
    },
    {
        "before": {"id": 1},
        "after": None,
        "source": {
            **_PG_SOURCE,
            "ts_ms": 1559033904863,
            "sequence": '["24023119","24023128"]',
            "txId": 556,
            "lsn": 46523128,
        },
        "op": "d",
        "ts_ms": 1465581902461,
    },
]

# The same create event as Kafka Connect's JsonConverter writes it with schemas.enable=true:
# {"schema": <Envelope schema>, "payload": <the event>} (same Debezium page, "Change event values",
# the `schema` part abridged to the fields it lists for the `after` image).
DEBEZIUM_POSTGRES_WRAPPED = {
    "schema": {
        "type": "struct",
        "fields": [
            {
                "type": "struct",
                "fields": [
                    {"type": "int32", "optional": False, "field": "id"},
                    {"type": "string", "optional": False, "field": "first_name"},
                    {"type": "string", "optional": False, "field": "last_name"},
                    {"type": "string", "optional": False, "field": "email"},
                ],
                "optional": True,
                "name": "PostgreSQL_server.inventory.customers.Value",
                "field": "before",
            },
            {
                "type": "struct",
                "fields": [
                    {"type": "int32", "optional": False, "field": "id"},
                    {"type": "string", "optional": False, "field": "first_name"},
                    {"type": "string", "optional": False, "field": "last_name"},
                    {"type": "string", "optional": False, "field": "email"},
                ],
                "optional": True,
                "name": "PostgreSQL_server.inventory.customers.Value",
                "field": "after",
            },
            {"type": "string", "optional": False, "field": "op"},
            {"type": "int64", "optional": True, "field": "ts_ms"},
        ],
        "optional": False,
        "name": "PostgreSQL_server.inventory.customers.Envelope",
    },
    "payload": DEBEZIUM_POSTGRES[0],
}

# Debezium MySQL connector, "Change event values": create / update / delete of the same
# customers table; the position is the binlog file, offset and row, and the create's
# source.ts_ms is 0 as in that example.
# https://debezium.io/documentation/reference/stable/connectors/mysql.html#mysql-change-event-values
_MYSQL_SOURCE = {
    "version": "2.5.4.Final",
    "connector": "mysql",
    "name": "mysql-server-1",
    "snapshot": False,
    "db": "inventory",
    "table": "customers",
    "server_id": 223344,
    "gtid": None,
    "thread": 7,
    "query": None,
}
DEBEZIUM_MYSQL = [
    {
        "before": None,
        "after": {"id": 1004, "first_name": "Anne", "last_name": "Kretchmar", "email": "annek@noanswer.org"},
        "source": {**_MYSQL_SOURCE, "ts_ms": 0, "file": "mysql-bin.000003", "pos": 154, "row": 0},
        "op": "c",
        "ts_ms": 1486500577691,
    },
    {
        "before": {"id": 1004, "first_name": "Anne", "last_name": "Kretchmar", "email": "annek@noanswer.org"},
        "after": {"id": 1004, "first_name": "Anne Marie", "last_name": "Kretchmar", "email": "annek@noanswer.org"},
        "source": {**_MYSQL_SOURCE, "ts_ms": 1465581029100, "file": "mysql-bin.000003", "pos": 484, "row": 0},
        "op": "u",
        "ts_ms": 1465581029523,
    },
    {
        "before": {"id": 1004, "first_name": "Anne Marie", "last_name": "Kretchmar", "email": "annek@noanswer.org"},
        "after": None,
        "source": {**_MYSQL_SOURCE, "ts_ms": 1465581902300, "file": "mysql-bin.000003", "pos": 805, "row": 0},
        "op": "d",
        "ts_ms": 1465581902461,
    },
]

# AWS Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB" -> example DynamoDB Streams
# record event: INSERT, MODIFY and REMOVE of the item Id=101 (one record per line here, as the
# `Records` array is unwrapped). ApproximateCreationDateTime is epoch seconds in this form.
# https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
_STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTableWithStream/stream/2015-06-27T00:48:05.899"
DYNAMODB_STREAMS = [
    {
        "eventID": "1",
        "eventVersion": "1.0",
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": _STREAM_ARN,
        "dynamodb": {
            "ApproximateCreationDateTime": 1428537600,
            "Keys": {"Id": {"N": "101"}},
            "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
            "SequenceNumber": "4421584500000000017450439091",
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    },
    {
        "eventID": "2",
        "eventVersion": "1.0",
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": _STREAM_ARN,
        "dynamodb": {
            "ApproximateCreationDateTime": 1428537600,
            "Keys": {"Id": {"N": "101"}},
            "NewImage": {"Message": {"S": "This item has changed"}, "Id": {"N": "101"}},
            "OldImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
            "SequenceNumber": "4421584500000000017450439092",
            "SizeBytes": 59,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    },
    {
        "eventID": "3",
        "eventVersion": "1.0",
        "eventName": "REMOVE",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": _STREAM_ARN,
        "dynamodb": {
            "ApproximateCreationDateTime": 1428537600,
            "Keys": {"Id": {"N": "101"}},
            "OldImage": {"Message": {"S": "This item has changed"}, "Id": {"N": "101"}},
            "SequenceNumber": "4421584500000000017450439093",
            "SizeBytes": 38,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    },
]

# The record as it arrives through Kinesis Data Streams for DynamoDB: the field set and types of
# the `DynamoDBStreamToKinesisRecordEvent` schema in the Powertools for AWS Lambda docs
# (awsRegion, dynamodb{ApproximateCreationDateTime (epoch milliseconds), Keys, NewImage,
# OldImage, SizeBytes}, eventID, eventName, eventSource, recordFormat "application/json",
# tableName, userIdentity; no SequenceNumber), filled with the `Music` table of the DynamoDB
# developer guide. The values are ours; the shape is theirs.
# https://docs.aws.amazon.com/powertools/typescript/2.16.0/api/types/_aws-lambda-powertools_parser.types.DynamoDBStreamToKinesisRecordEvent.html
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/kds.html
DYNAMODB_KINESIS = [
    {
        "awsRegion": "us-west-2",
        "eventID": "03b6f1a4-9c04-4e48-8e8c-1bd1a0b7e6ef",
        "eventName": "INSERT",
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": "Music",
        "dynamodb": {
            "ApproximateCreationDateTime": 1658951045367,
            "Keys": {"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}},
            "NewImage": {
                "Artist": {"S": "No One You Know"},
                "SongTitle": {"S": "Call Me Today"},
                "AlbumTitle": {"S": "Somewhat Famous"},
                "Awards": {"N": "1"},
            },
            "SizeBytes": 95,
        },
        "eventSource": "aws:dynamodb",
    },
    {
        "awsRegion": "us-west-2",
        "eventID": "9a5c4f4a-2f5e-4a8b-9d6e-5d5c7b1e2f10",
        "eventName": "MODIFY",
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": "Music",
        "dynamodb": {
            "ApproximateCreationDateTime": 1658951101914,
            "Keys": {"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}},
            "NewImage": {
                "Artist": {"S": "No One You Know"},
                "SongTitle": {"S": "Call Me Today"},
                "AlbumTitle": {"S": "Somewhat Famous"},
                "Awards": {"N": "10"},
            },
            "OldImage": {
                "Artist": {"S": "No One You Know"},
                "SongTitle": {"S": "Call Me Today"},
                "AlbumTitle": {"S": "Somewhat Famous"},
                "Awards": {"N": "1"},
            },
            "SizeBytes": 160,
        },
        "eventSource": "aws:dynamodb",
    },
]


def ndjson(records: list[dict]) -> bytes:  # type: ignore[type-arg]
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)
