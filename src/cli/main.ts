import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { CommandError, type Command, type CommandOutput } from './command.js';
import { commands } from './commands.js';

/**
 * The command line: `npm run tidepass -- <command> [arguments] [--help]`. Results go to stdout,
 * messages and errors to stderr; exit status 0 on success, 1 when the command failed, 2 when it was
 * called wrongly.
 */
const output: CommandOutput = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

function overview(): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    'Usage: npm run tidepass -- <command> [arguments]',
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Run `npm run tidepass -- <command> --help` for a command\'s own help.',
    'Configuration is read from the environment, as the server reads it (docs/operations.md).',
  ].join('\n');
}

function helpOf(command: Command): string {
  const options = Object.entries(command.options ?? {}).map(([name, option]) => `  --${name}${option.type === 'string' ? ' <value>' : ''}`);
  return [
    `Usage: npm run tidepass -- ${command.name}${command.arguments ? ` ${command.arguments}` : ''}${options.length ? ' [options]' : ''}`,
    '',
    command.summary,
    '',
    command.description,
    ...(options.length ? ['', 'Options:', ...options] : []),
    '',
    '  --help     show this help',
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? output.err : output.out)(overview());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) throw new CommandError(`Unknown command: ${name}\n\n${overview()}`, 2);
  let parsed;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new CommandError(`${(error as Error).message}\n\n${helpOf(command)}`, 2);
  }
  if (parsed.values.help) {
    output.out(helpOf(command));
    return 0;
  }
  if (parsed.positionals.length !== command.positionalCount) {
    throw new CommandError(`${command.name} takes ${command.arguments || 'no arguments'}.\n\n${helpOf(command)}`, 2);
  }
  let config: Config | undefined;
  await command.run({
    positionals: parsed.positionals,
    values: parsed.values,
    config: () => (config ??= loadConfig()),
    output,
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    if (error instanceof CommandError || error instanceof ConfigError) {
      output.err(error.message);
      process.exitCode = error instanceof CommandError ? error.exitCode : 1;
    } else {
      // Unexpected (the database unreachable, say): one line, no stack trace, nothing secret.
      output.err(`Failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    }
  },
);
