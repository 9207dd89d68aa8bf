import type { IncomingMessage } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../logger.js';
import type { AudienceCheck } from './conveniences.js';
import { formatCsp, type ContentSecurityPolicy } from './http-security.js';

/**
 * The "Your devices" page at GET /, and the pages the links in mails open: static HTML, and the
 * scripts and styles that `npm run build:web` bundles from web/ into dist/web/. Nothing inline, so
 * the CSP can forbid inline script and style.
 */
interface PageFile {
  readonly file: string;
  readonly type: string;
  /** A link page: its address carries a token, so neither caches nor the live socket have a place in it. */
  readonly link?: true;
}

const HTML = 'text/html; charset=utf-8';

const PAGE_FILES: Readonly<Record<string, PageFile>> = {
  '/': { file: 'index.html', type: HTML },
  // A GET of these never spends the token (mail scanners open links): the page's button does.
  '/verify-email': { file: 'verify-email.html', type: HTML, link: true },
  '/reset-password': { file: 'reset-password.html', type: HTML, link: true },
  '/confirm-email-change': { file: 'confirm-email-change.html', type: HTML, link: true },
  '/assets/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/assets/link.js': { file: 'link.js', type: 'text/javascript; charset=utf-8' },
  '/assets/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

function pageCsp(request: Request, page: PageFile): ContentSecurityPolicy {
  const { host, protocol } = new URL(request.url);
  return {
    'default-src': ["'none'"],
    'script-src': ["'self'"],
    'style-src': ["'self'"],
    'img-src': ["'self'"],
    // 'self' covers fetch; the WebSocket of the live device list is named: not every browser maps it.
    'connect-src': page.link ? ["'self'"] : ["'self'", `${protocol === 'https:' ? 'wss' : 'ws'}://${host}`],
    'base-uri': ["'none'"],
    'form-action': ["'none'"],
    'frame-ancestors': ["'none'"],
  };
}

export function usePage(options: { directory: URL; logger: Logger }): Plugin {
  const cache = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();
  const load = (file: string) => {
    let loading = cache.get(file);
    if (!loading) {
      loading = readFile(new URL(file, options.directory)).then((bytes) => new Uint8Array(bytes));
      // A missing build is reported on every request until it exists, not cached as a failure.
      loading.catch(() => cache.delete(file));
      cache.set(file, loading);
    }
    return loading;
  };
  const serve = async (asset: PageFile, request: Request, fetchAPI: { Response: typeof Response }) => {
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = await load(asset.file);
    } catch (error) {
      options.logger.error('the page is not built: run npm run build:web', { error });
      return new fetchAPI.Response('The page is not built: run npm run build:web.\n', { status: 503 });
    }
    const headers: Record<string, string> = {
      'content-type': asset.type,
      // no-store for a link page: a shared cache or the disk cache keyed by its address would keep the token.
      'cache-control': asset.link ? 'no-store' : 'no-cache',
    };
    if (asset.type === HTML) headers['content-security-policy'] = formatCsp(pageCsp(request, asset));
    return new fetchAPI.Response(request.method === 'HEAD' ? null : body, { headers });
  };
  return {
    // Synchronous for every other request: no promise on the GraphQL path.
    onRequest({ request, url, fetchAPI, endResponse }) {
      const asset = PAGE_FILES[url.pathname];
      if (!asset || (request.method !== 'GET' && request.method !== 'HEAD')) return;
      return serve(asset, request, fetchAPI).then(endResponse);
    },
  };
}

/**
 * GraphiQL from the bundle in @graphql-yoga/render-graphiql, served from our own origin (yoga's
 * default HTML loads it from a CDN, which neither an offline machine nor a strict CSP allows).
 * The bundle (about 9 MB) is split into files instead of inlined, so that no inline script is needed,
 * and loaded only when GraphiQL is first asked for.
 */
const GRAPHIQL_ASSETS = '/graphiql/';

type GraphiqlBundle = typeof import('@graphql-yoga/render-graphiql/graphiql');

const GRAPHIQL_CSP: ContentSecurityPolicy = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'worker-src': ["'self'"],
  // GraphiQL's editor (Monaco) and its components set styles at run time.
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/** The HTML yoga sends for GraphiQL: the options as JSON data, everything else from /graphiql/. */
export function renderGraphiqlPage(options: Record<string, unknown> & { title?: string }): string {
  // JSON inside a script element: escape '<' so that no value can close the element.
  const json = JSON.stringify(options).replaceAll('<', '\\u003c');
  const title = (options.title ?? 'GraphiQL').replace(/[<>&"]/g, '');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="icon" href="${GRAPHIQL_ASSETS}favicon.ico">
<link rel="stylesheet" href="${GRAPHIQL_ASSETS}graphiql.css">
</head>
<body id="body" class="no-focus-outline">
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root"></div>
<script type="application/json" id="graphiql-options">${json}</script>
<script src="${GRAPHIQL_ASSETS}monaco-environment.js"></script>
<script src="${GRAPHIQL_ASSETS}graphiql.js"></script>
<script src="${GRAPHIQL_ASSETS}start.js"></script>
</body>
</html>
`;
}

/** Tells Monaco where its workers are (same origin: worker-src 'self'). */
const MONACO_ENVIRONMENT = `self.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl: function (_moduleId, label) {
    return '${GRAPHIQL_ASSETS}' + ({ json: 'json', graphql: 'graphql' }[label] || 'editor') + '.worker.js';
  },
};
`;

const START = `YogaGraphiQL.renderYogaGraphiQL(
  document.getElementById('root'),
  JSON.parse(document.getElementById('graphiql-options').textContent),
);
`;

export function useGraphiqlAssets(options: { graphqlEndpoint: string; allowed: AudienceCheck }): Plugin<Record<string, unknown>, { req?: IncomingMessage }> {
  let bundle: Promise<GraphiqlBundle> | undefined;
  const script = (body: string) => ({ body, type: 'text/javascript; charset=utf-8' });
  const files = async (name: string): Promise<{ body: string | Uint8Array<ArrayBuffer>; type: string } | undefined> => {
    if (name === 'monaco-environment.js') return script(MONACO_ENVIRONMENT);
    if (name === 'start.js') return script(START);
    bundle ??= import('@graphql-yoga/render-graphiql/graphiql');
    const b = await bundle;
    switch (name) {
      case 'graphiql.js':
        return script(b.js);
      case 'graphiql.css':
        return { body: b.css, type: 'text/css; charset=utf-8' };
      case 'editor.worker.js':
        return script(b.editorWorkerService);
      case 'json.worker.js':
        return script(b.jsonWorker);
      case 'graphql.worker.js':
        return script(b.graphqlWorker);
      case 'favicon.ico': {
        const [, base64 = ''] = b.favicon.split(',');
        return { body: new Uint8Array(Buffer.from(base64, 'base64')), type: 'image/x-icon' };
      }
      default:
        return undefined;
    }
  };
  return {
    onRequest({ request, url, fetchAPI, endResponse, serverContext }) {
      if (request.method !== 'GET' || !url.pathname.startsWith(GRAPHIQL_ASSETS)) return;
      if (!options.allowed(request, serverContext.req)) return;
      return files(url.pathname.slice(GRAPHIQL_ASSETS.length)).then((file) => {
        if (!file) return;
        endResponse(
          new fetchAPI.Response(file.body, {
            headers: { 'content-type': file.type, 'cache-control': 'public, max-age=3600' },
          }),
        );
      });
    },
    onResponse({ request, response }) {
      // yoga renders GraphiQL's HTML itself; the policy is ours.
      if (new URL(request.url).pathname !== options.graphqlEndpoint) return;
      if (!response.headers.get('content-type')?.startsWith('text/html')) return;
      response.headers.set('content-security-policy', formatCsp(GRAPHIQL_CSP));
    },
  };
}
