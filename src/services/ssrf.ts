/**
 * Server-side request forgery guard for webhook URLs. A webhook URL is
 * chosen by an API caller and fetched by the gateway from inside the
 * network, so it must not reach loopback, private, link-local or otherwise
 * internal addresses. Checked when an app is saved and again before every
 * delivery, after DNS resolution, and the request then connects to the very
 * address that was checked (no second lookup an attacker's DNS could answer
 * differently: DNS rebinding).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { InvalidInputError } from './errors.js';

const blocked = new BlockList();
// IPv4: "this network", private (RFC 1918), carrier-grade NAT, loopback, link-local
// (cloud metadata lives at 169.254.169.254), IETF protocol assignments, test nets,
// benchmarking, multicast, reserved and broadcast.
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
// IPv6: unspecified, loopback, unique local (fc00::/7), link-local, site-local, multicast, documentation.
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** The IPv4 address an IPv6 address embeds (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible, NAT64 64:ff9b::/96), if any. */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|::ffff:0:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1], 16);
    const lo = parseInt(hex[2], 16);
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
  }
  return undefined;
}

/** True for any address a webhook must not reach. Unknown syntax counts as private (fail closed). */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return blocked.check(bare, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(bare);
    if (v4) return blocked.check(v4, 'ipv4');
    return blocked.check(bare, 'ipv6');
  }
  return true;
}

export interface ResolvedTarget {
  url: URL;
  /** The checked address to connect to. */
  address: string;
  family: 4 | 6;
}

export type Lookup = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Parses and checks the URL's form (scheme, no credentials); throws InvalidInputError('url', …). */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidInputError('url', 'The URL is not valid.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidInputError('url', 'The URL must use https or http.');
  if (url.username || url.password) throw new InvalidInputError('url', 'The URL must not contain credentials.');
  if (raw.length > 2048) throw new InvalidInputError('url', 'The URL is longer than 2048 characters.');
  return url;
}

/**
 * Resolves the URL's host and refuses it when any of its addresses is
 * private (unless allowed): a name resolving to both a public and a private
 * address is refused, since either may be used.
 */
export async function resolveWebhookTarget(raw: string, options: { allowPrivate: boolean; lookup?: Lookup }): Promise<ResolvedTarget> {
  const url = parseWebhookUrl(raw);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await (options.lookup ?? systemLookup)(host);
    } catch {
      throw new InvalidInputError('url', 'The URL host does not resolve.');
    }
  }
  if (addresses.length === 0) throw new InvalidInputError('url', 'The URL host does not resolve.');
  if (!options.allowPrivate && addresses.some((a) => isPrivateAddress(a.address))) {
    throw new InvalidInputError('url', 'The URL points to a private, loopback or link-local address, which webhooks may not reach.');
  }
  const first = addresses[0];
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}
