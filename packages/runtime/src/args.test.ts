import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseCommandLine } from './args.ts';

const USAGE = 'usage: pnpm tool [name] [--force]';
const config = { options: { force: { type: 'boolean' } }, allowPositionals: true } as const;

/** Runs parseCommandLine with process.exit and the output captured. */
function run(args: string[]) {
  const exit = vi.spyOn(process, 'exit').mockImplementation((code) => {
    throw new Error(`exit ${code}`);
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return { parsed: parseCommandLine(config, USAGE, args) };
  } catch (err) {
    return {
      exit: exit.mock.calls[0]?.[0],
      error: String(err),
      stderr: stderr.mock.calls.map((c) => String(c[0])).join(''),
      stdout: stdout.mock.calls.map((c) => String(c[0])).join(''),
    };
  }
}

describe('parseCommandLine', () => {
  afterEach(() => vi.restoreAllMocks());

  it('parses flags and positionals', () => {
    expect(run(['2026-11', '--force']).parsed).toMatchObject({
      values: { force: true },
      positionals: ['2026-11'],
    });
  });

  it('stops an unknown flag with the problem and the usage, exit 2', () => {
    const out = run(['--frce']);
    expect(out.exit).toBe(2);
    expect(out.stderr).toContain("Unknown option '--frce'");
    expect(out.stderr).toContain(USAGE);
  });

  it('prints the usage for --help, exit 0', () => {
    const out = run(['--help']);
    expect(out.exit).toBe(0);
    expect(out.stdout).toBe(`${USAGE}\n`);
  });
});
