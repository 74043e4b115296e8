/**
 * `npm run simulator`: the HoduPBX simulator on its own. Configured by command-line flags only (`--help`
 * lists them): where it listens and calls back, how it answers, and how whole calls show
 * (docs/simulator.md).
 */
import { parseArgs } from 'node:util';
import { DEMO_EXTENSIONS, DEMO_TOKEN, generateContacts } from './seed.js';
import {
  ACTIVE_CALLS_LISTINGS,
  CALL_LOG_FIELD_SETS,
  createSimulator,
  GROUP_IN_CALLBACK_CHOICES,
  type ActiveCallsListing,
  type GroupInCallback,
  type CallbackStyle,
  type CallLogFields,
  type ErrorStyle,
  type PasswordFormat,
  type SimulatorOptions,
} from './simulator.js';
import { isTimeZone } from './local-time.js';

/** This program's own terminal output (it has no logger: it is the simulator's command line). */
const print = (line: string): void => void process.stdout.write(`${line}\n`);
const printErr = (line: string): void => void process.stderr.write(`${line}\n`);

const USAGE = 'usage: simulator [options]   (--help lists them)';

const HELP = `usage: simulator [options]

A HoduPBX Tenant API simulator written from the manual (docs/simulator.md).

  --port N                  port to listen on (default 8090; 0 = any free port)
  --host H                  address to listen on (default 127.0.0.1)
  --callback-url URL        where ringing callbacks go (also POST /_sim/callback-url)
  --token T                 the tenant's token_id (default ${DEMO_TOKEN})
  --error-style S           body (HTTP 200 with status_code in the body, default) | http (the code as HTTP status)
  --password-format F       md5 (default) | plain: what crmSubscribe expects as extension_password
  --callback-style S        json (default) | form | query
  --contacts N              generate N phonebook contacts instead of the demo ones

Whole calls (also PUT /_sim/calls-mode):
  --active-calls L          how activeCalls lists calls: ${ACTIVE_CALLS_LISTINGS.join(' | ')} (default ringing-legs)
  --call-log-fields F       ${CALL_LOG_FIELD_SETS.join(' | ')} (default extended): the extra fields integrators report, or the manual's only
  --recording-delay-ms N    recordingPath answers 406 until N ms after an answered call ended (default 3000)
  --call-log-delay-ms N     the callLog row appears N ms after the hang-up (default 0)
  --timezone TZ             the PBX's local time zone for the times it writes (IANA name, default UTC)
  --state-callbacks         also call back on answer (answered) and hang-up (ended)
  --group-in-callback G     a group call's callbacks name the group: ${GROUP_IN_CALLBACK_CHOICES.join(' | ')} (default none)

  -h, --help                print this and exit
`;

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

function parseCli(argv: string[]): { port: number; host: string; options: SimulatorOptions } | 'help' {
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
      'active-calls': { type: 'string' },
      'call-log-fields': { type: 'string' },
      'recording-delay-ms': { type: 'string' },
      'call-log-delay-ms': { type: 'string' },
      timezone: { type: 'string' },
      'state-callbacks': { type: 'boolean' },
      'group-in-callback': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return 'help';
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
    activeCalls: oneOf<ActiveCallsListing>('active-calls', values['active-calls'], ACTIVE_CALLS_LISTINGS),
    callLogFields: oneOf<CallLogFields>('call-log-fields', values['call-log-fields'], CALL_LOG_FIELD_SETS),
    recordingDelayMs: nonNegativeInteger('recording-delay-ms', values['recording-delay-ms']),
    callLogDelayMs: nonNegativeInteger('call-log-delay-ms', values['call-log-delay-ms']),
    sendStateCallbacks: values['state-callbacks'],
    groupInCallback: oneOf<GroupInCallback>('group-in-callback', values['group-in-callback'], GROUP_IN_CALLBACK_CHOICES),
  };
  if (values.timezone !== undefined) {
    if (!isTimeZone(values.timezone)) throw new Error('--timezone must be an IANA time zone name such as Asia/Kolkata');
    options.timezone = values.timezone;
  }
  const contacts = nonNegativeInteger('contacts', values.contacts);
  if (contacts !== undefined) options.contacts = generateContacts(contacts);
  return { port, host: values.host ?? '127.0.0.1', options };
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseCli>;
  try {
    parsed = parseCli(process.argv.slice(2));
  } catch (err) {
    printErr(err instanceof Error ? err.message : String(err));
    printErr(USAGE);
    process.exitCode = 2;
    return;
  }
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return;
  }
  const cli = parsed;
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
  const mode = sim.callsMode();
  print(`  calls: activeCalls ${mode.activeCalls}, call log ${mode.callLogFields}, recordings after ${mode.recordingDelayMs} ms, time zone ${mode.timezone}`);
  print('  ring groups / queues:');
  for (const g of sim.callGroups()) print(`    ${g.number} ${g.name} (${g.kind === 'queue' ? 'queue' : 'ring group'}): ${g.members.join(', ')}`);
  print(`  ring: curl -X POST ${address.url}/_sim/ring -H 'content-type: application/json' -d '{"extension":"101","from":"09824740472","fromName":"NISHA"}'`);
  print(`  call: curl -X POST ${address.url}/_sim/calls -H 'content-type: application/json' -d '{"from":"09824740472","to":"5000"}'`);
  print(`        then POST ${address.url}/_sim/calls/<callId>/answer {"extension":"102"} and POST ${address.url}/_sim/calls/<callId>/hangup`);
}

void main();
