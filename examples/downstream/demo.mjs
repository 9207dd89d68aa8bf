import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDownstream } from './server.mjs';

/**
 * One command: tidepass (embedded PGlite in a temporary folder, a fresh feed key) and the downstream
 * service beside it; then a sign-up, a request to the downstream service, a logout on tidepass, and
 * the downstream service's refusal. `--once` stops after that; otherwise both keep running.
 */
const repo = fileURLToPath(new URL('../../', import.meta.url));
const TIDEPASS_PORT = Number(process.env.TIDEPASS_PORT ?? 4000);
const tidepassUrl = `http://127.0.0.1:${TIDEPASS_PORT}`;
const feedKey = randomBytes(32).toString('base64url');
const dataDir = mkdtempSync(join(tmpdir(), 'tidepass-demo-'));

const tidepass = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
  cwd: repo,
  stdio: ['ignore', 'ignore', 'inherit'],
  env: {
    ...process.env,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(TIDEPASS_PORT),
    DATA_DIR: dataDir,
    REVOCATION_FEED_KEYS: feedKey,
  },
});
let downstream;
async function shutdown(code) {
  await downstream?.close();
  tidepass.kill('SIGTERM');
  await new Promise((resolve) => tidepass.once('exit', resolve));
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));
tidepass.once('exit', (code) => {
  if (!downstream) process.exit(code ?? 1);
});

async function waitUntilReady() {
  // A first start migrates a new embedded database: it can take a while on a busy machine.
  for (let attempt = 0; attempt < 1200; attempt += 1) {
    try {
      if ((await fetch(`${tidepassUrl}/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('tidepass did not become ready in 120 s');
}

async function graphql(url, query, token) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ query }),
  });
  return response.json();
}

async function walkThrough() {
  await waitUntilReady();
  downstream = await startDownstream({ tidepassUrl, issuer: 'http://localhost:4000', audience: 'tidepass', feedKey, port: 4100 });
  console.log(`tidepass at ${tidepassUrl}/graphql, the downstream service at ${downstream.url}/graphql`);

  const email = `demo-${randomBytes(4).toString('hex')}@example.com`;
  const signedUp = await graphql(tidepassUrl, `mutation { signUp(email: "${email}", password: "correct horse battery") { accessToken } }`);
  const token = signedUp.data.signUp.accessToken;
  console.log('downstream, signed in:  ', JSON.stringify(await graphql(downstream.url, '{ me { userId sessionId } }', token)));
  await graphql(tidepassUrl, 'mutation { logout }', token);
  const loggedOut = performance.now();
  let refused;
  do refused = await graphql(downstream.url, '{ me { userId } }', token);
  while (!refused.errors);
  console.log(`downstream, after logout (${(performance.now() - loggedOut).toFixed(1)} ms):`, JSON.stringify(refused.errors[0].extensions));
  if (process.argv.includes('--once')) await shutdown(0);
  else console.log('Both keep running; Ctrl-C stops them. The feed key of this run is in REVOCATION_FEED_KEYS of the tidepass process.');
}

walkThrough().catch((error) => {
  console.error(error);
  void shutdown(1);
});
