/** `--help` for the programs in src/ (the bridge, the doctor): they are configured by the environment. */
import { CONFIG_VARIABLES } from './config.js';

export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** The variables, wrapped to the width of a terminal. */
function variableList(): string {
  const lines: string[] = [];
  let line = ' ';
  for (const name of CONFIG_VARIABLES) {
    if (line.length + name.length + 1 > 100) {
      lines.push(line);
      line = ' ';
    }
    line += ` ${name}`;
  }
  lines.push(line);
  return lines.join('\n');
}

export function bridgeHelp(): string {
  return `usage: npm start            (or: node dist/main.js)

The HoduPBX CRM bridge. It takes no options: it is configured by environment variables (README,
"Configuration"). With PBX_BASE_URL unset it runs in demo mode with a built-in PBX simulator and prints
the sign-in details. SIGTERM or SIGINT shut it down cleanly within 10 s.

options:
  -h, --help   this text

environment:
${variableList()}`;
}
