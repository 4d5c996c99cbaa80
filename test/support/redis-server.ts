import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from '@meterline/redis';
import { eventually } from './wait.ts';

/** A Redis server of one test's own (the machine's `redis-server`), for what the shared one must not
 * go through: a restart, and one from an older snapshot. It keeps a snapshot only when told (`save()`,
 * RDB in its own directory) and loads it again on `restart()`. */
export interface OwnRedisServer {
  readonly url: string;
  /** Writes the RDB snapshot now (SAVE): what a restart comes back with. */
  save(): Promise<void>;
  /** Stops the server without saving and starts it again on the same port, from the last snapshot. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startOwnRedisServer(): Promise<OwnRedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'meterline-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;

  const start = async () => {
    let output = '';
    const c = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (d: Buffer) => {
      output += d.toString();
    };
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    const failed = new Promise<never>((_, reject) => {
      c.once('error', (err) =>
        reject(new Error(`redis-server could not start (Debian package redis-server): ${err.message}`)),
      );
      c.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
    });
    failed.catch(() => {});
    child = c;
    const answers = async () => {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } finally {
        probe.disconnect();
      }
    };
    await Promise.race([
      eventually(answers, { timeoutMs: 30_000, intervalMs: 50, what: `redis-server on ${url}` }).catch(
        (err: Error) => {
          throw new Error(`${err.message}\n${output}`);
        },
      ),
      failed,
    ]);
  };
  const stop = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGKILL'); // no shutdown save: what it held since the last snapshot is lost
    await exited;
  };

  await start();
  return {
    url,
    async save() {
      const admin = new Redis(url, { maxRetriesPerRequest: 1 });
      try {
        await admin.save();
      } finally {
        admin.disconnect();
      }
    },
    async restart() {
      await stop();
      await start();
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A loopback port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
