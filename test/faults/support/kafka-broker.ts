import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKafka } from '@meterline/kafka';
import { createLogger } from '@meterline/runtime';
import { eventually, freePort } from '@meterline/test/support';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** A Kafka broker of the fault suite's own (KRaft, one node), from the jars `pnpm infra:up` downloaded
 * into ~/.cache/meterline: one the suite may stop and start again, which the shared broker must never be.
 * Its data directory survives `stop()`/`start()`, as a restarted broker's disk does. */
export interface OwnKafkaBroker {
  readonly brokers: string[];
  /** Stops the broker as an operator does (SIGTERM, controlled shutdown) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data; resolves once it answers metadata requests. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The newest cached Kafka classpath (kafka-<version>-<pom hash>/libs). */
function kafkaLibs(): string {
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'meterline');
  const dirs = existsSync(cache)
    ? readdirSync(cache)
        .filter((d) => /^kafka-\d/.test(d) && existsSync(join(cache, d, 'libs')))
        .sort()
    : [];
  const found = dirs.at(-1);
  if (!found) {
    throw new Error(
      `no Kafka jars in ${cache}: run \`pnpm infra:up\` once (it downloads them into that cache)`,
    );
  }
  return join(cache, found, 'libs');
}

/** A java of at least 17 (Kafka 4): JAVA_HOME, PATH, /usr/lib/jvm. */
function java17(): string {
  const candidates = [
    ...(process.env.KAFKA_JAVA ? [process.env.KAFKA_JAVA] : []),
    ...(process.env.JAVA_HOME ? [join(process.env.JAVA_HOME, 'bin/java')] : []),
    'java',
    ...(existsSync('/usr/lib/jvm')
      ? readdirSync('/usr/lib/jvm').map((d) => `/usr/lib/jvm/${d}/bin/java`)
      : []),
  ];
  // -XshowSettings and -version write to stderr.
  for (const c of candidates) {
    try {
      const r = execFileSync('sh', ['-c', `"${c}" -XshowSettings:properties -version 2>&1`], {
        encoding: 'utf8',
      });
      const major = Number(/java\.specification\.version = (\d+)/.exec(r)?.[1]);
      if (major >= 17) return c;
    } catch {
      // not a java
    }
  }
  throw new Error('the fault suite starts its own Kafka broker and needs Java 17+ (none found)');
}

export async function startOwnKafkaBroker(): Promise<OwnKafkaBroker> {
  const libs = kafkaLibs();
  const java = java17();
  const dir = mkdtempSync(join(tmpdir(), 'meterline-kafka-'));
  const port = await freePort();
  const controllerPort = await freePort();
  // The template's SASL listener (infra/up.sh's, ADR 0023) gets a port too; the suite does not use it.
  const saslPort = await freePort();
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const template = readFileSync(join(repoRoot, 'infra/kafka/server.properties'), 'utf8');
  const properties = join(dir, 'server.properties');
  writeFileSync(
    properties,
    template
      .replaceAll('@KAFKA_PORT@', String(port))
      .replaceAll('@KAFKA_CONTROLLER_PORT@', String(controllerPort))
      .replaceAll('@KAFKA_SASL_PORT@', String(saslPort))
      .replaceAll('@KAFKA_SASL_USERNAME@', 'faults')
      .replaceAll('@KAFKA_SASL_PASSWORD@', randomBytes(12).toString('hex'))
      .replaceAll('@DATA_DIR@', dataDir),
  );
  const jvm = [
    `-Dlog4j2.configurationFile=${join(repoRoot, 'infra/kafka/log4j2.properties')}`,
    `-Dkafka.logs.dir=${dir}`,
    '-Djava.awt.headless=true',
    '-cp',
    `${libs}/*`,
  ];
  // A cluster id is 16 random bytes, base64url without padding.
  const clusterId = randomBytes(16).toString('base64url');
  execFileSync(java, [...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const brokers = [`127.0.0.1:${port}`];
  let child: ChildProcess | null = null;
  let output = '';

  const answers = async () => {
    const admin = createKafka(
      { brokers, clientId: 'faults-probe' },
      createLogger('probe', { level: 'fatal' }),
    ).admin();
    try {
      await admin.connect();
      await admin.listTopics();
      return true;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  };
  const start = async () => {
    output = '';
    const c = spawn(
      java,
      ['-Xms128m', '-Xmx384m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', ...jvm, 'kafka.Kafka', properties],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-20_000);
    };
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    child = c;
    await eventually(
      async () => {
        if (c.exitCode !== null) throw new Error(`the broker exited (${c.exitCode}): ${output}`);
        return answers();
      },
      { timeoutMs: 120_000, intervalMs: 500, what: `the fault suite's Kafka broker on ${brokers[0]}` },
    );
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill(signal);
    const killer = setTimeout(() => c.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(killer);
  };
  // A test runner that dies takes its broker along.
  process.once('exit', () => child?.kill('SIGKILL'));

  await start();
  return {
    brokers,
    stop: () => stop('SIGTERM'),
    start,
    async close() {
      await stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
