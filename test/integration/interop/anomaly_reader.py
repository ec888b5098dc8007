#!/usr/bin/python3
"""Reads Vigil's anomaly events the way a Python consumer would: confluent_kafka (librdkafka) with
read_committed, the writer schema fetched by id from the registry with confluent_kafka's SchemaRegistryClient,
the body decoded by the Apache Avro library. It also recomputes each event id as any system could, a standard
UUIDv5 of the JSON text [topic, partition, offset, model id, model version] in Vigil's namespace.

Output: one JSON line per event on stdout, in topic order.
"""
import argparse
import base64
import datetime
import io
import json
import struct
import sys
import time
import uuid

import avro.io
import avro.schema
from confluent_kafka import Consumer, KafkaError
from confluent_kafka.schema_registry import SchemaRegistryClient

VIGIL_EVENT_NAMESPACE = uuid.UUID("4a2669f7-92c0-4770-bed3-add540f12b70")
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def plain(value):
    """Avro-decoded values as JSON: bytes as base64, datetimes as epoch milliseconds."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.datetime):
        return (value - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--registry", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()

    registry = SchemaRegistryClient({"url": args.registry})
    readers = {}
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([args.topic])
    deadline = time.time() + args.timeout
    assigned_eof = set()
    assignment = None
    try:
        while time.time() < deadline:
            msg = consumer.poll(0.5)
            if assignment is None:
                current = consumer.assignment()
                if current:
                    assignment = {(tp.topic, tp.partition) for tp in current}
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    assigned_eof.add((msg.topic(), msg.partition()))
                    if assignment is not None and assignment <= assigned_eof:
                        break
                    continue
                print(f"consumer error: {msg.error()}", file=sys.stderr)
                return 1
            value = msg.value()
            magic, schema_id = struct.unpack(">bI", value[:5])
            if magic != 0:
                print(f"offset {msg.offset()}: magic byte {magic}, not Confluent framing", file=sys.stderr)
                return 1
            reader = readers.get(schema_id)
            if reader is None:
                registered = registry.get_schema(schema_id)
                reader = avro.io.DatumReader(avro.schema.parse(registered.schema_str))
                readers[schema_id] = reader
            event = reader.read(avro.io.BinaryDecoder(io.BytesIO(value[5:])))
            source = event["source"]
            name = json.dumps(
                [source["topic"], source["partition"], source["offset"], event["model"]["id"], event["model"]["version"]],
                separators=(",", ":"),
            )
            headers = {k: (v.decode("utf-8") if v is not None else None) for k, v in (msg.headers() or [])}
            out = {
                "schema_id": schema_id,
                "partition": msg.partition(),
                "offset": msg.offset(),
                "key": msg.key().decode("utf-8") if msg.key() is not None else None,
                "headers": headers,
                "recomputed_event_id": str(uuid.uuid5(VIGIL_EVENT_NAMESPACE, name)),
                "event": plain(event),
            }
            print(json.dumps(out))
        else:
            print("timed out before the end of the topic", file=sys.stderr)
            return 2
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
