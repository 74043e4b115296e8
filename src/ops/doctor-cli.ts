/** `npm run doctor [-- --public-url URL]`: runs the doctor's checks with this process's environment. */
import { parseArgs } from 'node:util';
import { wantsHelp } from '../help.js';
import { formatReport, runDoctor } from './doctor.js';

const HELP = `usage: npm run doctor [-- --public-url https://bridge.example.com]    (or: node dist/ops/doctor-cli.js)

Checks a setup before it goes live, with the same environment variables as the bridge: the configuration,
the PBX (a harmless read with PBX_TOKEN), the callback secret and URL, and Redis (reachable, persistence on,
no evicting maxmemory-policy). Prints a checklist and a verdict; exit 0 when READY, 1 when NOT READY.
No secret is printed.

options:
  --public-url URL   the bridge's base URL as the PBX will call it: checked for TLS and for /healthz
  --timeout-ms N     per network check (default 5000)
  -h, --help         this text`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (wantsHelp(argv)) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  let values: { 'public-url'?: string; 'timeout-ms'?: string };
  try {
    values = parseArgs({ args: argv, options: { 'public-url': { type: 'string' }, 'timeout-ms': { type: 'string' } }, strict: true }).values;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${HELP}\n`);
    process.exitCode = 2;
    return;
  }
  const timeoutMs = values['timeout-ms'] === undefined ? 5000 : Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100) {
    process.stderr.write('--timeout-ms must be a whole number, at least 100\n');
    process.exitCode = 2;
    return;
  }
  const report = await runDoctor(process.env, { publicUrl: values['public-url'], timeoutMs });
  process.stdout.write(`${formatReport(report)}\n`);
  process.exitCode = report.ready ? 0 : 1;
}

void main();
