import { execFile, execSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@meterline/test/support';

const run = promisify(execFile);

/** A Postgres cluster of the fault suite's own (Debian's Postgres 15 binaries, a temporary data
 * directory, a free loopback port, trust logins), which the suite may crash and restart: the shared
 * one must never be. As root the cluster runs as the `postgres` user (initdb refuses root). */
export interface OwnPostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/meterline */
  readonly url: string;
  /** Stops the server without a checkpoint (`-m immediate`: a crash; every connection drops) and
   * starts it again; it replays its WAL and answers again. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** POSTGRES_BIN_DIR, else the newest Debian Postgres (/usr/lib/postgresql/<major>/bin). */
function postgresBinDir(): string {
  if (process.env.POSTGRES_BIN_DIR) return process.env.POSTGRES_BIN_DIR;
  const base = '/usr/lib/postgresql';
  const majors = existsSync(base)
    ? readdirSync(base)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, 'bin/initdb')))
        .sort((a, b) => Number(a) - Number(b))
    : [];
  return join(base, majors.at(-1) ?? '15', 'bin');
}

export async function startOwnPostgres(): Promise<OwnPostgresServer> {
  const binDir = postgresBinDir();
  if (!existsSync(join(binDir, 'initdb'))) {
    throw new Error(
      `the fault suite starts its own Postgres and needs initdb in ${binDir} (Debian package postgresql, or set POSTGRES_BIN_DIR)`,
    );
  }
  const root = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'meterline-pg-'));
  const dataDir = join(dir, 'data');
  if (root) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  // As root: through runuser as the postgres user; else as whoever runs the suite.
  const asOwner = (bin: string, args: string[]) =>
    root
      ? run('runuser', ['-u', 'postgres', '--', join(binDir, bin), ...args])
      : run(join(binDir, bin), args);
  const port = await freePort();
  await asOwner('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    '-c max_connections=200',
    // A crash of Postgres is tested, not one of the machine: fsync may be off (the page cache survives a
    // killed server), but commits stay synchronous, or an immediate stop would lose acknowledged ones.
    '-c fsync=off',
  ].join(' ');
  const start = () =>
    asOwner('pg_ctl', ['-D', dataDir, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '120', 'start']);
  const stop = (mode: 'immediate' | 'fast') => asOwner('pg_ctl', ['-D', dataDir, '-m', mode, '-w', 'stop']);
  await start();
  await run(join(binDir, 'psql'), [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    'postgres',
    '-d',
    'postgres',
    '-Xqc',
    'CREATE DATABASE meterline',
  ]);
  let running = true;
  // A test runner that dies takes its cluster along (synchronously: no event loop on exit).
  process.once('exit', () => {
    if (!running) return;
    try {
      execSync(
        `${root ? 'runuser -u postgres -- ' : ''}${join(binDir, 'pg_ctl')} -D ${dataDir} -m immediate stop`,
      );
    } catch {
      // already stopped
    }
  });
  return {
    url: `postgres://postgres@127.0.0.1:${port}/meterline`,
    async restart() {
      await stop('immediate');
      await start();
    },
    async close() {
      running = false;
      await stop('immediate').catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
