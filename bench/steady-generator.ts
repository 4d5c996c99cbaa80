import { createKafka, createRegistry, type Message, sendAll } from '@meterline/kafka';
import { createLogger, sleep } from '@meterline/runtime';
import { steadyEvent, steadyResources, usageEventEncoder } from './load.ts';

// The load generator of `pnpm bench:load`, its own process so that its CPU is measured apart from the
// services' and the measuring's. It produces `steadyEvent(j)` for j = 0, 1, ... at GEN_RATE events/s
// for GEN_SECONDS, each stamped with the time it was made, and prints `sent <n>` every second and
// `done <n> <seconds> <cpu seconds>` at the end. Behind schedule (a slow send), it catches up in the next request.
const brokers = process.env.GEN_BROKERS!.split(',');
const topic = process.env.GEN_TOPIC!;
const resources = steadyResources(process.env.GEN_RESOURCE_SEED!, Number(process.env.GEN_RESOURCES));
const rate = Number(process.env.GEN_RATE);
const seconds = Number(process.env.GEN_SECONDS);
const log = createLogger('bench-generator', { level: 'error' });
const kafka = createKafka({ brokers, clientId: 'bench-load-generator' }, log);
const encode = await usageEventEncoder(createRegistry(process.env.GEN_REGISTRY!), `${topic}-value`);
const producer = kafka.producer({ allowAutoTopicCreation: false });
await producer.connect();
process.stdout.write('ready\n');
// The bench starts the load with SIGUSR2, once its measurements are in place.
await new Promise((resolve) => process.once('SIGUSR2', resolve));
const cpu0 = process.cpuUsage();

const tickMs = 20;
const total = Math.round(rate * seconds);
const start = Date.now();
let sent = 0;
let reported = start;
while (sent < total) {
  const due = Math.min(total, Math.floor((rate * (Date.now() - start)) / 1000));
  if (due > sent) {
    const messages: Message[] = [];
    const at = Date.now();
    for (; sent < due; sent++) {
      const event = steadyEvent(sent, resources, at);
      messages.push({ key: event.resourceId, value: encode(event) });
    }
    await sendAll(producer, topic, messages);
  }
  if (Date.now() - reported >= 1000) {
    reported = Date.now();
    process.stdout.write(`sent ${sent}\n`);
  }
  await sleep(Math.max(0, tickMs - ((Date.now() - start) % tickMs)));
}
// What was sent, in how many seconds, with how many CPU seconds of this process.
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`done ${sent} ${(Date.now() - start) / 1000} ${(cpu.user + cpu.system) / 1e6}\n`);
await producer.disconnect();
process.exit(0);
