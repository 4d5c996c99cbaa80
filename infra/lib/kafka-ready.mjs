// Exits 0 once the broker answers a Metadata request with at least one registered broker.
// Dependency-free on purpose: up.sh must work before `pnpm install`.
import net from 'node:net';

const [host = '127.0.0.1', port = '19092'] = (process.argv[2] ?? '').split(':').filter(Boolean);

function metadataRequest() {
  const clientId = Buffer.from('meterline-infra');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
  let o = 0;
  o = body.writeInt16BE(3, o); // api key: Metadata
  o = body.writeInt16BE(4, o); // v4: non-flexible, supported by Kafka 2.x-4.x
  o = body.writeInt32BE(1, o); // correlation id
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  o = body.writeInt32BE(-1, o); // null topic list = all topics
  body.writeInt8(0, o); // allow_auto_topic_creation = false
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

const socket = net.connect({ host, port: Number(port) });
let data = Buffer.alloc(0);
const fail = (why) => {
  process.stderr.write(`kafka not ready: ${why}\n`);
  socket.destroy();
  process.exit(1);
};
socket.setTimeout(3000, () => fail('timeout'));
socket.on('error', (e) => fail(e.message));
socket.on('connect', () => socket.write(metadataRequest()));
socket.on('data', (chunk) => {
  data = Buffer.concat([data, chunk]);
  if (data.length < 4 || data.length < 4 + data.readInt32BE(0)) return;
  // size, correlation id, throttle_time_ms, brokers array length
  const correlationId = data.readInt32BE(4);
  const brokers = data.readInt32BE(12);
  if (correlationId !== 1) fail(`unexpected correlation id ${correlationId}`);
  if (brokers < 1) fail('no broker registered yet');
  socket.end();
  process.exit(0);
});
socket.on('end', () => fail('connection closed'));
