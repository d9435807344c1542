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
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { InvalidInputError } from '../../kernel/errors.js';

// Classification uses ipaddr.js's table of special-purpose ranges (each with its RFC), not a
// list of our own: only 'unicast' is public. Everything else is refused, among them loopback,
// private (RFC 1918), carrier-grade NAT, link-local (cloud metadata lives at 169.254.169.254),
// unique local, multicast, broadcast, "this network", documentation and benchmarking nets.

const ipv4From = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
const isPublicIpv4 = (address: ipaddr.IPv4) => address.range() === 'unicast';

/**
 * IPv6 forms that embed an IPv4 address reach that address (through the
 * kernel, a NAT64 gateway or a 6to4 relay), so the embedded address decides:
 * - IPv4-mapped ::ffff:a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d (RFC 6145): the last 32 bits;
 * - IPv4-compatible ::a.b.c.d (deprecated; some stacks still tunnel it): the last 32 bits;
 * - NAT64 with the well-known prefix 64:ff9b::/96 (RFC 6052): the last 32 bits;
 * - 6to4 2002:aabb:ccdd::/48 (RFC 3056): bits 16–47.
 * Refused whole, because the IPv4 address cannot be read reliably:
 * - the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215): where the IPv4 address sits
 *   depends on the prefix length the operator chose, and it is local by definition;
 * - Teredo 2001::/32 (RFC 4380): it carries two IPv4 addresses (server, and the
 *   client's obfuscated) and which one a packet reaches depends on the relay;
 * - the rest of 0::/8, reserved by the IETF and never a public host.
 */
function isPublicIpv6(address: ipaddr.IPv6): boolean {
  const p = address.parts;
  switch (address.range()) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return isPublicIpv4(ipv4From(p[6], p[7]));
    case 'rfc6052':
      // 64:ff9b::/96 only; the range also holds 64:ff9b:1::/48, refused.
      return p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 && isPublicIpv4(ipv4From(p[6], p[7]));
    case '6to4':
      return isPublicIpv4(ipv4From(p[1], p[2]));
    case 'unicast':
      if (p[0] >> 8 !== 0) return true;
      // 0::/8, which ipaddr.js leaves in 'unicast': only ::a.b.c.d, judged by its IPv4 address.
      return p.slice(0, 6).every((part) => part === 0) && isPublicIpv4(ipv4From(p[6], p[7]));
    default:
      // Teredo, loopback, link-local, unique local, multicast, documentation, discard, ...
      return false;
  }
}

/** True for any address a webhook must not reach. Unknown syntax counts as private (fail closed). */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  // node:net decides what is an address at all: ipaddr.js also reads legacy IPv4 forms
  // (octal, hex, fewer parts) that no URL host or DNS answer reaching us takes.
  const family = isIP(bare);
  try {
    if (family === 4) return !isPublicIpv4(ipaddr.IPv4.parse(bare));
    if (family === 6) return !isPublicIpv6(ipaddr.IPv6.parse(bare));
  } catch {
    // The two parsers disagree about a spelling: fail closed.
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
