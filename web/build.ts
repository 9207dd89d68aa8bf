import { copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const HTML_PAGES = ['index.html', 'verify-email.html', 'reset-password.html', 'confirm-email-change.html'];

/**
 * Bundles the devices page (web/main.ts and its CSS) and the link pages' script (web/link-pages.ts)
 * into dist/web/, where the server reads them: `npm run build:web`; npm start and the test setup run it too.
 */
export async function buildWeb(): Promise<void> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const outdir = fileURLToPath(new URL('../dist/web/', import.meta.url));
  await mkdir(outdir, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: { app: 'web/main.ts', link: 'web/link-pages.ts' },
    bundle: true,
    format: 'esm',
    target: ['chrome111', 'firefox115', 'safari16.4'],
    minify: true,
    legalComments: 'none',
    outdir,
    logLevel: 'warning',
  });
  for (const page of HTML_PAGES) {
    await copyFile(new URL(`./${page}`, import.meta.url), new URL(page, pathToFileURL(outdir)));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildWeb();
}
