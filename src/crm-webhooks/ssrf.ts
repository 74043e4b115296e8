/**
 * SSRF guard for webhook URLs. Addresses that are loopback, private, link-local (cloud metadata), CGNAT,
 * unspecified, multicast or reserved are refused, as are IPv6 forms that embed such an IPv4 address
 * (IPv4-mapped, IPv4-translated, IPv4-compatible, NAT64, local-use NAT64, 6to4, Teredo). Checked twice: when
 * an endpoint is registered (the name is resolved) and on every connection (the connector filters what DNS
 * answers then), so a name that later resolves elsewhere (DNS rebinding) cannot reach an internal address.
 *
 * IP spellings: the WHATWG URL parser already normalizes `2130706433`, `0x7f000001`, `0177.0.0.1` and `127.1`
 * to `127.0.0.1`, and `[::ffff:127.0.0.1]` to `[::ffff:7f00:1]`, so only canonical forms reach the checks.
 * Parsing and range matching are ipaddr.js's; which ranges are refused is this file's table.
 */
import { isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { buildConnector } from 'undici';
import { BridgeError } from '../errors.js';
import { TimeoutError, withTimeout } from '../timeouts.js';

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

const V4_BLOCKED: Array<[IPv4, number]> = [
  '0.0.0.0/8', // "this network", includes the unspecified address
  '10.0.0.0/8',
  '100.64.0.0/10', // CGNAT
  '127.0.0.0/8',
  '169.254.0.0/16', // link-local, cloud metadata (169.254.169.254)
  '172.16.0.0/12',
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // documentation
  '192.168.0.0/16',
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // documentation
  '203.0.113.0/24', // documentation
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, includes 255.255.255.255
].map((cidr) => ipaddr.IPv4.parseCIDR(cidr));

const V6_BLOCKED: Array<[IPv6, number]> = [
  '::/96', // unspecified, loopback and the deprecated IPv4-compatible form
  '::ffff:0:0/96', // IPv4-mapped: judged by the embedded address below, blocked here as a backstop
  '::ffff:0:0:0/96', // IPv4-translated (SIIT): translators forward it to the embedded IPv4 address
  '64:ff9b:1::/48', // local-use NAT64
  '100::/64', // discard
  '2001::/32', // Teredo: tunnels to an IPv4 address (obfuscated in the low bits) through a relay
  '2001:db8::/32', // documentation
  'fc00::/7', // unique local
  'fe80::/10', // link-local
  'fec0::/10', // site-local (deprecated)
  'ff00::/8', // multicast
].map((cidr) => ipaddr.IPv6.parseCIDR(cidr));

/**
 * Parses an address node:net calls an IP (what a socket would connect to without a lookup); null otherwise,
 * which the guard refuses. IPv4 keeps to four decimal parts (ipaddr.js alone would also read `127.1`). IPv6
 * goes through the WHATWG URL parser first, which writes it in hex groups (ipaddr.js 1.x cannot read a dotted
 * quad after `::`, as in `64:ff9b::1.2.3.4`); the zone (`%eth0`) names an interface, not an address, and goes.
 */
function parseIp(address: string): IPv4 | IPv6 | null {
  const family = isIP(address);
  if (family === 4) return ipaddr.IPv4.isValidFourPartDecimal(address) ? ipaddr.IPv4.parse(address) : null;
  if (family !== 6) return null;
  const zone = address.indexOf('%');
  try {
    const hex = new URL(`http://[${zone >= 0 ? address.slice(0, zone) : address}]/`).hostname.slice(1, -1);
    return ipaddr.IPv6.parse(hex);
  } catch {
    return null;
  }
}

function v4FromParts(hi: number, lo: number): IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

const NAT64 = ipaddr.IPv6.parse('64:ff9b::');

function embeddedIn(ip: IPv6): { v4: IPv4; mapped: boolean; compatible: boolean } | null {
  const [g0, g1 = 0, g2 = 0, g3, g4, g5, g6 = 0, g7 = 0] = ip.parts;
  const zeroHead = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (ip.isIPv4MappedAddress()) return { v4: ip.toIPv4Address(), mapped: true, compatible: false };
  if (zeroHead && g5 === 0) return { v4: v4FromParts(g6, g7), mapped: false, compatible: true };
  if (ip.match(NAT64, 96)) return { v4: v4FromParts(g6, g7), mapped: false, compatible: false };
  if (g0 === 0x2002) return { v4: v4FromParts(g1, g2), mapped: false, compatible: false };
  return null;
}

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64 64:ff9b::/96, 6to4 2002::/16), if any. */
export function embeddedIpv4(address: string): { v4: string; mapped: boolean; compatible: boolean } | null {
  const ip = parseIp(address);
  if (!(ip instanceof ipaddr.IPv6)) return null;
  const embedded = embeddedIn(ip);
  return embedded && { ...embedded, v4: embedded.v4.toString() };
}

const blockedV4 = (ip: IPv4): boolean => V4_BLOCKED.some((range) => ip.match(range));
const blockedV6 = (ip: IPv6): boolean => V6_BLOCKED.some((range) => ip.match(range));

const GENERIC = 'a loopback, private, link-local or reserved address';

/** Why an IP address may not be a webhook target, or null when it may. Non-IP input is refused. */
export function blockedAddressReason(address: string): string | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const ip = parseIp(bare);
  if (!ip) return `${address} is not an IP address`;
  if (ip instanceof ipaddr.IPv4) return blockedV4(ip) ? `${bare} is ${GENERIC}` : null;
  const embedded = embeddedIn(ip);
  if (embedded && !embedded.compatible && blockedV4(embedded.v4)) return `${bare} is ${GENERIC} (it embeds ${embedded.v4.toString()})`;
  // An IPv4-mapped address reaches exactly its IPv4 address, which passed above.
  if (embedded?.mapped) return null;
  return blockedV6(ip) ? `${bare} is ${GENERIC}` : null;
}

export function isBlockedAddress(address: string): boolean {
  return blockedAddressReason(address) !== null;
}

/** Resolves a host name to all its addresses. Replaceable in tests (e.g. to simulate DNS rebinding). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    const opts: LookupAllOptions = { all: true, verbatim: true };
    dnsLookup(hostname, opts, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });

/** The host of a parsed URL without IPv6 brackets. */
export function urlHost(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

export type UrlCheck =
  | { ok: true; url: string }
  | { ok: false; reason: 'invalid' | 'blocked' | 'unresolvable' | 'lookup_timeout'; message: string };

/**
 * How long registration waits for the host name to resolve. The system resolver has no timeout of its own
 * the bridge controls (resolv.conf's timeouts and attempts, or a stuck resolver thread), and an admin request
 * should not hang on it. The lookup itself is not cancelled (node:dns cannot be); its late answer is ignored.
 */
export const REGISTRATION_LOOKUP_TIMEOUT_MS = 5000;

export interface UrlCheckOptions {
  allowPrivate: boolean;
  resolve?: Resolver;
  /** Default REGISTRATION_LOOKUP_TIMEOUT_MS. */
  lookupTimeoutMs?: number;
}

/** Validates a webhook URL at registration: http(s), no credentials, and (unless allowPrivate) only public addresses. */
export async function checkWebhookUrl(raw: string, opts: UrlCheckOptions): Promise<UrlCheck> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'invalid', message: 'must be an absolute http(s) URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: 'invalid', message: 'must use http or https' };
  if (url.username || url.password) return { ok: false, reason: 'invalid', message: 'must not contain credentials' };
  if (url.hash) return { ok: false, reason: 'invalid', message: 'must not contain a #fragment' };
  if (opts.allowPrivate) return { ok: true, url: url.href };
  const host = urlHost(url);
  if (isIP(host)) {
    const why = blockedAddressReason(host);
    return why ? { ok: false, reason: 'blocked', message: `not allowed: ${why} (set WEBHOOK_ALLOW_PRIVATE=true to allow it)` } : { ok: true, url: url.href };
  }
  let addresses: LookupAddress[];
  const timeoutMs = opts.lookupTimeoutMs ?? REGISTRATION_LOOKUP_TIMEOUT_MS;
  try {
    addresses = await withTimeout((opts.resolve ?? systemResolver)(host), timeoutMs, 'the DNS resolver');
  } catch (err) {
    if (err instanceof TimeoutError) {
      return { ok: false, reason: 'lookup_timeout', message: `the host ${host} did not resolve within ${timeoutMs} ms; try again` };
    }
    return { ok: false, reason: 'unresolvable', message: `the host ${host} could not be resolved` };
  }
  if (addresses.length === 0) return { ok: false, reason: 'unresolvable', message: `the host ${host} has no addresses` };
  for (const a of addresses) {
    const why = blockedAddressReason(a.address);
    if (why) return { ok: false, reason: 'blocked', message: `not allowed: ${host} resolves to a non-public address: ${why} (set WEBHOOK_ALLOW_PRIVATE=true to allow it)` };
  }
  return { ok: true, url: url.href };
}

/** A connection the guard refused; a delivery's error reads `WEBHOOK_ERR_BLOCKED_ADDRESS: <message>`. */
export class BlockedAddressError extends BridgeError {
  constructor(message: string) {
    super('WEBHOOK_ERR_BLOCKED_ADDRESS', message);
  }
}

/**
 * A net/tls `lookup` that resolves as usual and drops non-public addresses; fails when none is left.
 * Node calls it with `all: true` when it races address families (autoSelectFamily), else for one address.
 */
export function guardedLookup(resolve: Resolver = systemResolver): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    resolve(hostname).then(
      (addresses) => {
        const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
        const allowed = wanted.filter((a) => !isBlockedAddress(a.address));
        if (allowed.length === 0) {
          callback(new BlockedAddressError(`${hostname} resolves only to non-public addresses`), '', 0);
          return;
        }
        const first = allowed[0] as LookupAddress;
        if (options.all) callback(null, allowed);
        else callback(null, first.address, first.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };
}

/**
 * An undici connector that refuses IP-literal hosts in blocked ranges (net.connect skips `lookup` for
 * those) and resolves names through guardedLookup. With allowPrivate it is undici's default connector.
 */
export function guardedConnector(opts: { allowPrivate: boolean; connectTimeoutMs: number; resolve?: Resolver }): buildConnector.connector {
  if (opts.allowPrivate) return buildConnector({ timeout: opts.connectTimeoutMs });
  const inner = buildConnector({ timeout: opts.connectTimeoutMs, lookup: guardedLookup(opts.resolve) });
  return (options, callback) => {
    const host = options.hostname.startsWith('[') ? options.hostname.slice(1, -1) : options.hostname;
    if (isIP(host)) {
      const why = blockedAddressReason(host);
      if (why) {
        callback(new BlockedAddressError(`connection refused: ${why}`), null);
        return;
      }
    }
    inner(options, callback);
  };
}
