#!/usr/bin/env node
// Readiness probe for kafkactl.sh: one Metadata request (v4, the oldest version Kafka 4 still serves) over
// a raw socket, so it needs no npm dependency and no JVM start (a Java tool costs seconds of CPU per try).
// Usage: node probe.mjs HOST:PORT [timeout_ms]
// Prints {"clusterId","controllerId","brokers":[{nodeId,host,port}]} and exits 0 when at least one broker
// is registered; exits 1 with one line on stderr otherwise.
import net from 'node:net';

const [target = '127.0.0.1:9092', timeoutArg = '2000'] = process.argv.slice(2);
const sep = target.lastIndexOf(':');
const host = target.slice(0, sep);
const port = Number(target.slice(sep + 1));
const timeoutMs = Number(timeoutArg);

function request() {
  const clientId = Buffer.from('vigil-kafkactl-probe');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
  let o = 0;
  o = body.writeInt16BE(3, o); // api_key: Metadata
  o = body.writeInt16BE(4, o); // api_version
  o = body.writeInt32BE(1, o); // correlation_id
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  o = body.writeInt32BE(-1, o); // topics: null = all (we only read the brokers)
  body.writeInt8(0, o); // allow_auto_topic_creation
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

function parse(buf) {
  let o = 0;
  const int16 = () => {
    const v = buf.readInt16BE(o);
    o += 2;
    return v;
  };
  const int32 = () => {
    const v = buf.readInt32BE(o);
    o += 4;
    return v;
  };
  const str = () => {
    const len = int16();
    if (len < 0) return null;
    const v = buf.toString('utf8', o, o + len);
    o += len;
    return v;
  };
  if (int32() !== 1) throw new Error('correlation id mismatch');
  int32(); // throttle_time_ms
  const brokers = [];
  for (let n = int32(); n > 0; n--) {
    const nodeId = int32();
    const h = str();
    const p = int32();
    str(); // rack
    brokers.push({ nodeId, host: h, port: p });
  }
  const clusterId = str();
  const controllerId = int32();
  return { clusterId, controllerId, brokers };
}

const fail = (msg) => {
  process.stderr.write(`probe ${target}: ${msg}\n`);
  process.exit(1);
};

const socket = net.connect({ host, port });
const timer = setTimeout(() => {
  socket.destroy();
  fail(`no Metadata response within ${timeoutMs} ms`);
}, timeoutMs);
let chunks = Buffer.alloc(0);
socket.on('connect', () => socket.write(request()));
socket.on('data', (d) => {
  chunks = Buffer.concat([chunks, d]);
  if (chunks.length < 4 || chunks.length < 4 + chunks.readInt32BE(0)) return;
  clearTimeout(timer);
  socket.destroy();
  let meta;
  try {
    meta = parse(chunks.subarray(4));
  } catch (err) {
    fail(`unreadable Metadata response (${err.message})`);
  }
  if (meta.brokers.length === 0) fail('broker answers but lists no brokers yet');
  process.stdout.write(`${JSON.stringify(meta)}\n`);
  process.exit(0);
});
socket.on('error', (err) => {
  clearTimeout(timer);
  fail(err.code ?? err.message);
});
socket.on('close', () => {
  clearTimeout(timer);
  fail('connection closed before a Metadata response');
});
