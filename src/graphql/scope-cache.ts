import { RequestCache } from '@pothos/plugin-scope-auth';
import type { Plugin } from 'graphql-yoga';

/**
 * Pothos's scope-auth caches its decisions per context object (about 1 kB), and a subscription's
 * context lives as long as the subscription. A subscription is authorized once, when it starts
 * (authorizeOnSubscribe), so the cache is dropped then rather than kept for each subscriber.
 */
export function useScopeCacheReleaseOnSubscribe(): Plugin {
  // One object for every subscription: envelop keeps what onSubscribe returns for the subscription's life.
  const afterSubscribe = {
    onSubscribeResult({ args }: { args: { contextValue: unknown } }) {
      if (args.contextValue) RequestCache.clearForContext(args.contextValue);
    },
  };
  return { onSubscribe: () => afterSubscribe };
}
