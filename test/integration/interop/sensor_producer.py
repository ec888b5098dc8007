#!/usr/bin/python3
"""Writes sensor readings into Vigil's input topic the way a Python service would: the schema registered with
confluent_kafka's SchemaRegistryClient, each record encoded by the Apache Avro library and framed in the
Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro body), produced with confluent_kafka
(librdkafka). Nothing of Vigil's is used, so Vigil has to read what the rest of the world writes.

confluent_kafka's own AvroSerializer needs fastavro, which Debian does not package; the framing it would add is
the three lines in frame() below.

Input: one JSON reading per line on stdin (Vigil's SensorReading fields; event_time in epoch milliseconds).
Output: one JSON line on stdout: {"schema_id": ..., "produced": ...}.
"""
import argparse
import datetime
import io
import json
import struct
import sys

import avro.io
import avro.schema
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def frame(schema_id: int, body: bytes) -> bytes:
    return struct.pack(">bI", 0, schema_id) + body


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--registry", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--schema", required=True, help="path to sensor_reading.avsc")
    args = ap.parse_args()

    schema_text = open(args.schema, encoding="utf-8").read()
    registry = SchemaRegistryClient({"url": args.registry})
    schema_id = registry.register_schema(f"{args.topic}-value", Schema(schema_text, "AVRO"))
    schema = avro.schema.parse(schema_text)
    writer = avro.io.DatumWriter(schema)

    errors = []

    def delivered(err, _msg):
        if err is not None:
            errors.append(str(err))

    producer = Producer({"bootstrap.servers": args.bootstrap, "enable.idempotence": True, "linger.ms": 5})
    produced = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        reading = json.loads(line)
        # The Avro library wants a datetime for timestamp-millis; built from the integer so no float rounds it.
        reading["event_time"] = EPOCH + datetime.timedelta(milliseconds=reading["event_time"])
        buf = io.BytesIO()
        writer.write(reading, avro.io.BinaryEncoder(buf))
        producer.produce(args.topic, key=reading["device_id"], value=frame(schema_id, buf.getvalue()), on_delivery=delivered)
        produced += 1
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining or errors:
        print(f"undelivered: {remaining}, errors: {errors[:5]}", file=sys.stderr)
        return 1
    print(json.dumps({"schema_id": schema_id, "produced": produced}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
