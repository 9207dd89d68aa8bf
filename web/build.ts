import { copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles the page (web/main.ts and its CSS) into dist/web/, where the server reads it:
 * `npm run build:web`; npm start and the test setup run it too.
 */
export async function buildWeb(): Promise<void> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const outdir = fileURLToPath(new URL('../dist/web/', import.meta.url));
  await mkdir(outdir, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: { app: 'web/main.ts' },
    bundle: true,
    format: 'esm',
    target: ['chrome111', 'firefox115', 'safari16.4'],
    minify: true,
    legalComments: 'none',
    outdir,
    logLevel: 'warning',
  });
  await copyFile(new URL('./index.html', import.meta.url), new URL('index.html', pathToFileURL(outdir)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildWeb();
}
