import ipaddr from 'ipaddr.js';

/**
 * Which X-Forwarded-For entries are believed (TRUST_PROXY): none; those appended by the nearest
 * `count` proxies; or those appended by proxies whose addresses fall in `ranges` (CIDRs).
 */
export type TrustProxy =
  | { readonly kind: 'none' }
  | { readonly kind: 'hops'; readonly count: number }
  | { readonly kind: 'ranges'; readonly ranges: readonly string[] };

/** Names for common ranges, as Express's proxy-addr has them. */
const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

export const TRUST_PROXY_MESSAGE =
  'must be false, true (one proxy), a number of proxies, or a comma-separated list of proxy addresses or CIDRs (loopback, linklocal and uniquelocal name their ranges)';

/** TRUST_PROXY's text as a TrustProxy; null when it is none of the accepted forms. */
export function parseTrustProxy(text: string): TrustProxy | null {
  const value = text.trim().toLowerCase();
  if (value === 'false' || value === '0') return { kind: 'none' };
  if (value === 'true') return { kind: 'hops', count: 1 };
  if (/^\d+$/.test(value)) return Number(value) <= 100 ? { kind: 'hops', count: Number(value) } : null;
  const ranges: string[] = [];
  for (const entry of value.split(',').map((part) => part.trim()).filter(Boolean)) {
    const named = NAMED_RANGES[entry];
    if (named) ranges.push(...named);
    else if (ipaddr.isValidCIDR(entry)) ranges.push(entry);
    else if (ipaddr.isValid(entry)) ranges.push(`${entry}/${ipaddr.parse(entry).kind() === 'ipv4' ? 32 : 128}`);
    else return null;
  }
  return ranges.length > 0 ? { kind: 'ranges', ranges } : null;
}

/** Whether the address at `hop` (0: the socket's peer, 1: the last X-Forwarded-For entry, …) is a trusted proxy. */
export type ProxyCheck = (address: string | undefined, hop: number) => boolean;

export function proxyCheck(trust: TrustProxy): ProxyCheck {
  switch (trust.kind) {
    case 'none':
      return () => false;
    case 'hops':
      return (_address, hop) => hop < trust.count;
    case 'ranges': {
      const ranges = trust.ranges.map((range) => ipaddr.parseCIDR(range));
      return (address) => {
        // In process (yoga.fetch) there is no socket: no address to trust.
        if (address === undefined || !ipaddr.isValid(address)) return false;
        // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is matched as the IPv4 address it is.
        const parsed = ipaddr.process(address);
        return ranges.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits));
      };
    }
  }
}

/**
 * The client's address: walking from the socket's peer back through X-Forwarded-For (each proxy
 * appends the address it received from), the first hop that is not a trusted proxy. Entries before
 * it are whatever the client claimed. When every hop is trusted, the furthest one.
 */
export function forwardedClient(socketAddress: string | undefined, forwardedFor: string | null, trusted: ProxyCheck): string | undefined {
  if (!trusted(socketAddress, 0) || !forwardedFor) return socketAddress;
  const hops = forwardedFor.split(',').map((hop) => hop.trim()).filter(Boolean).reverse();
  for (const [index, hop] of hops.entries()) {
    if (!trusted(hop, index + 1)) return hop;
  }
  return hops.at(-1) ?? socketAddress;
}
