/**
 * `npm run simulator`: the HoduPBX simulator on its own. Configured by command-line flags only:
 *   --port 8090 --host 127.0.0.1 --callback-url URL --token T --error-style body|http
 *   --password-format md5|plain --callback-style json|form|query --contacts N (generate N contacts)
 */
import { parseArgs } from 'node:util';
import { DEMO_EXTENSIONS, DEMO_TOKEN, generateContacts } from './seed.js';
import { createSimulator, type CallbackStyle, type ErrorStyle, type PasswordFormat, type SimulatorOptions } from './simulator.js';

/** This program's own terminal output (it has no logger: it is the simulator's command line). */
const print = (line: string): void => void process.stdout.write(`${line}\n`);
const printErr = (line: string): void => void process.stderr.write(`${line}\n`);

const USAGE =
  'usage: simulator [--port 8090] [--host 127.0.0.1] [--callback-url URL] [--token TOKEN] [--error-style body|http] ' +
  '[--password-format md5|plain] [--callback-style json|form|query] [--contacts N]';

const HELP = `${USAGE}

The HoduPBX simulator on its own (the PBX API of the manual, plus /_sim/* controls to ring calls).

options:
  --port N                         where to listen (default 8090)
  --host H                         (default 127.0.0.1)
  --callback-url URL               where ringing callbacks go (or later: POST /_sim/callback-url {"url": …})
  --token TOKEN                    the token_id it accepts (default the demo token)
  --error-style body|http          manual error codes in the JSON body (default) or as the HTTP status
  --password-format md5|plain      how it expects extension_password (default md5)
  --callback-style json|form|query how it sends callbacks (default json)
  --contacts N                     a generated phonebook of N contacts instead of the demo contacts
  -h, --help                       this text`;

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new Error(`--${name} must be one of ${allowed.join(', ')}`);
  return found;
}

function nonNegativeInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${name} must be a whole number`);
  return Number(value);
}

function parseCli(argv: string[]): { port: number; host: string; options: SimulatorOptions } {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '8090' },
      host: { type: 'string', default: '127.0.0.1' },
      'callback-url': { type: 'string' },
      token: { type: 'string' },
      'error-style': { type: 'string' },
      'password-format': { type: 'string' },
      'callback-style': { type: 'string' },
      contacts: { type: 'string' },
    },
    strict: true,
  });
  const port = nonNegativeInteger('port', values.port) ?? 8090;
  if (port > 65535) throw new Error('--port must be at most 65535');
  const callbackUrl = values['callback-url'];
  if (callbackUrl !== undefined && !URL.canParse(callbackUrl)) throw new Error('--callback-url must be an absolute URL');
  const options: SimulatorOptions = {
    token: values.token,
    errorStyle: oneOf<ErrorStyle>('error-style', values['error-style'], ['body', 'http']),
    passwordFormat: oneOf<PasswordFormat>('password-format', values['password-format'], ['md5', 'plain']),
    callbackStyle: oneOf<CallbackStyle>('callback-style', values['callback-style'], ['json', 'form', 'query']),
    callbackUrl: callbackUrl ?? null,
  };
  const contacts = nonNegativeInteger('contacts', values.contacts);
  if (contacts !== undefined) options.contacts = generateContacts(contacts);
  return { port, host: values.host ?? '127.0.0.1', options };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    print(HELP);
    return;
  }
  let cli: ReturnType<typeof parseCli>;
  try {
    cli = parseCli(argv);
  } catch (err) {
    printErr(err instanceof Error ? err.message : String(err));
    printErr(USAGE);
    process.exitCode = 2;
    return;
  }
  const sim = createSimulator(cli.options);
  const address = await sim.listen(cli.port, cli.host);
  const o = cli.options;
  print(`HoduPBX simulator listening on ${address.url}`);
  print(`  API root (PBX_BASE_URL): ${address.apiBaseUrl}`);
  print(`  token_id: ${o.token ?? DEMO_TOKEN}   userType: TENANT`);
  print(`  errors as: ${o.errorStyle ?? 'body'}   extension_password: ${o.passwordFormat ?? 'md5'}`);
  print(`  callbacks: ${o.callbackUrl ?? '(none yet: POST /_sim/callback-url {"url": …})'} as ${o.callbackStyle ?? 'json'}`);
  print(`  phonebook: ${o.contacts ? `${o.contacts.length} generated contacts` : 'demo contacts'}`);
  print('  demo extensions (number: web password):');
  for (const [number, password] of Object.entries(DEMO_EXTENSIONS)) print(`    ${number}: ${password}`);
  print(`  ring: curl -X POST ${address.url}/_sim/ring -H 'content-type: application/json' -d '{"extension":"101","from":"09824740472","fromName":"NISHA"}'`);
}

void main();
