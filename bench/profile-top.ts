import { readFileSync } from 'node:fs';
import { parseCommandLine, usageError } from '@meterline/runtime';

// `pnpm --filter @meterline/bench profile:top <file.cpuprofile> [--top 25]`: where a CPU profile's time
// went (from `node --cpu-prof`, e.g. SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" on a
// benchmark): self time by package (node_modules/<name>, Node's own code, this repository, GC, idle)
// and the top functions, each as a share of the profile's samples.
const usage = 'usage: profile-top <file.cpuprofile> [--top 25]';
const { values, positionals } = parseCommandLine(
  { options: { top: { type: 'string', default: '25' } }, allowPositionals: true },
  usage,
);
if (positionals.length !== 1) usageError('one profile file expected', usage);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
};
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

/** What a frame belongs to: a package, Node, this repository, or V8's own entries. */
function owner(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) return `(${functionName || 'native'})`;
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node';
  const repo = /\/(packages|services)\/([^/]+)\//.exec(url);
  return repo ? `${repo[1]}/${repo[2]}` : url;
}

const sum = (key: (n: ProfileNode) => string) => {
  const out = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const k = key(byId.get(id)!);
    out.set(k, (out.get(k) ?? 0) + us);
  }
  return [...out].sort((a, b) => b[1] - a[1]);
};
const line = ([k, us]: [string, number]) =>
  `  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1e6).toFixed(2).padStart(7)} s  ${k}`;
process.stdout.write(`${(total / 1e6).toFixed(1)} s sampled\nby package (self time):\n`);
for (const row of sum(owner).slice(0, 15)) process.stdout.write(`${line(row)}\n`);
process.stdout.write('top functions (self time):\n');
const fn = (n: ProfileNode) =>
  `${n.callFrame.functionName || '(anonymous)'} ${owner(n)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
for (const row of sum(fn).slice(0, Number(values.top))) process.stdout.write(`${line(row)}\n`);
