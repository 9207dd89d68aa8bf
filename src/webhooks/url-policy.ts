import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { badInput } from '../errors.js';

/** Resolves a host name to every address it has (node:dns's lookup by default). */
export type Resolve = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

/** An address a webhook may not be sent to, or a host that does not resolve. */
export class RefusedDestination extends Error {
  override readonly name = 'RefusedDestination';
}

const MAX_URL_LENGTH = 2048;

/**
 * Whether an address is on the public internet. Only ipaddr.js's `unicast` (no special range) passes:
 * private, loopback, link-local (169.254.169.254, the cloud metadata service), unique-local
 * (fd00:ec2::254), CGNAT (100.100.100.200), unspecified, multicast, reserved, and IPv6 ranges that
 * embed an IPv4 address (mapped, NAT64, 6to4, Teredo: they could carry a private one) are refused.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'unicast';
}

/** The URL's host without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Every address of the host, each of them public (unless `allowPrivate`); throws RefusedDestination
 * otherwise. Every address is checked, not the first: a name with one public and one private address
 * would otherwise reach the private one on the attempt that picks it.
 */
export async function checkedAddresses(hostname: string, allowPrivate: boolean, resolve: Resolve): Promise<LookupAddress[]> {
  const family = isIP(hostname);
  let addresses: LookupAddress[];
  if (family !== 0) addresses = [{ address: hostname, family }];
  else {
    try {
      addresses = await resolve(hostname);
    } catch {
      throw new RefusedDestination(`the host ${hostname} does not resolve`);
    }
  }
  if (addresses.length === 0) throw new RefusedDestination(`the host ${hostname} does not resolve`);
  const refused = addresses.find((a) => !allowPrivate && !isPublicAddress(a.address));
  if (refused) throw new RefusedDestination(`the host resolves to a private or reserved address (${refused.address})`);
  return addresses;
}

/**
 * An endpoint URL as an admin gives it: http or https, no credentials, a host with public addresses
 * only (so that the server cannot be made a probe of its own network). BAD_USER_INPUT (field url)
 * otherwise. The addresses are checked again at each delivery (the name may since point elsewhere).
 */
export async function validateEndpointUrl(raw: string, allowPrivate: boolean, resolve: Resolve): Promise<URL> {
  if (raw.length > MAX_URL_LENGTH) throw badInput('url', `The URL must be at most ${MAX_URL_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badInput('url', 'The URL is not a valid absolute URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badInput('url', 'The URL must be http or https.');
  if (url.username || url.password) throw badInput('url', 'The URL must not carry credentials.');
  try {
    await checkedAddresses(hostOf(url), allowPrivate, resolve);
  } catch (error) {
    if (error instanceof RefusedDestination) throw badInput('url', `The URL is refused: ${error.message}.`);
    throw error;
  }
  return url;
}

export { hostOf };
