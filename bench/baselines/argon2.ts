import { hashPassword } from '../../src/auth/passwords.js';

/**
 * argon2id hashes/s with the product's own parameters (src/auth/passwords.ts), `concurrency` at a
 * time, in a process of its own like the server: the cost a login cannot avoid.
 * Usage: argon2.ts <concurrency> <seconds>; prints {"hashes":n,"seconds":s,"cpuMs":ms}.
 */
const concurrency = Number(process.argv[2] ?? 16);
const seconds = Number(process.argv[3] ?? 5);

await hashPassword('warm-up password'); // the first call loads the native module
const deadline = performance.now() + seconds * 1000;
let hashes = 0;
const started = performance.now();
const cpuBefore = process.cpuUsage();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      await hashPassword('bench password, correct horse');
      hashes += 1;
    }
  }),
);
const cpu = process.cpuUsage(cpuBefore);
// cpuMs: all threads of this process (argon2 runs on libuv's pool), for the CPU cost of one hash.
process.stdout.write(
  JSON.stringify({ hashes, seconds: (performance.now() - started) / 1000, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n',
);
