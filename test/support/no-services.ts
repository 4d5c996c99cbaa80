// Setup file of the unit run (the root vitest.config.ts): a unit test that connects to Postgres,
// Redis, Kafka, the schema registry or SMTP fails with an error that says so, instead of passing
// where the infrastructure happens to be up and hanging or failing obscurely where it is not. Such a
// test belongs in a *.int.test.ts file. Every TCP client in the test's process (pg, ioredis, kafkajs,
// fetch, nodemailer) connects through net.Socket, so patching its connect covers them all.
import net from 'node:net';
import { afterEach } from 'vitest';

const SERVICE_PORTS: ReadonlyMap<number, string> = new Map([
  [5432, 'Postgres'],
  [6379, 'Redis'],
  [19092, 'Kafka'],
  [8081, 'the schema registry'],
  [1025, 'SMTP'],
  [1080, "the SMTP catcher's web API"],
]);

// A client may catch the connect error and retry, so each one is also kept here and fails the test
// once it ends. The state lives on globalThis because a worker runs this file again for every test
// file while net.Socket, a built-in, is patched once per worker.
type Guard = { refused: Error[] };
const GUARD = Symbol.for('meterline.no-services');
const global = globalThis as { [GUARD]?: Guard };

if (global[GUARD] === undefined) {
  const guard: Guard = { refused: [] };
  global[GUARD] = guard;
  const connect = net.Socket.prototype.connect as (this: net.Socket, ...args: unknown[]) => net.Socket;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const port = portOf(args);
    const service = port === undefined ? undefined : SERVICE_PORTS.get(port);
    if (service !== undefined) {
      const error = new Error(
        `unit tests must not use services: this test connects to ${service} (port ${port}); ` +
          'a test that needs it belongs in a *.int.test.ts file',
      );
      guard.refused.push(error);
      throw error;
    }
    return connect.apply(this, args);
  } as typeof net.Socket.prototype.connect;
}

afterEach(({ task }) => {
  const guard = global[GUARD]!;
  const [first] = guard.refused;
  guard.refused = [];
  if (first === undefined) return;
  // A test that already failed with it (or with an error it caused) need not report it twice.
  if (!task.result?.errors?.some((error) => hasMessage(error, first.message))) throw first;
});

function hasMessage(error: unknown, message: string): boolean {
  for (let e = error; typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) {
    if ((e as { message?: unknown }).message === message) return true;
  }
  return false;
}

// The port of a net.Socket#connect call: (options[, listener]), (port[, host][, listener]), or the
// ([options, listener]) array that net.connect passes; undefined for a path (a Unix socket).
function portOf(args: unknown[]): number | undefined {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const port = typeof first === 'object' && first !== null ? (first as { port?: unknown }).port : first;
  if (typeof port === 'number') return port;
  if (typeof port === 'string' && /^\d+$/.test(port)) return Number(port);
  return undefined;
}
