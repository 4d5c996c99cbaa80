import { type ParseArgsConfig, parseArgs } from 'node:util';

/** Stops a command-line tool the way a bad invocation should: the problem, the usage, exit code 2. */
export function usageError(problem: string, usage: string): never {
  process.stderr.write(`${problem}\n${usage}\n`);
  process.exit(2);
}

/** node:util parseArgs for a command-line tool, strict: an unknown flag, a flag missing its value or an
 * extra argument stops it with `usageError`. `--help` (or -h) prints the usage and exits 0. */
export function parseCommandLine<T extends Omit<ParseArgsConfig, 'args' | 'strict'>>(
  config: T,
  usage: string,
  args: string[] = process.argv.slice(2),
): ReturnType<typeof parseArgs<T & { args: string[]; strict: true }>> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  try {
    return parseArgs({ ...config, args, strict: true });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (!code?.startsWith('ERR_PARSE_ARGS')) throw err;
    return usageError((err as Error).message, usage);
  }
}
