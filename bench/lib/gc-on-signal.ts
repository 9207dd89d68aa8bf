/**
 * Preloaded (--import) into a server the harness measures memory of, started with --expose-gc:
 * SIGUSR2 runs a full garbage collection, so that resident memory is read with the garbage of the
 * connection phase (token verifications, handshakes) collected, for the server and its baseline alike.
 */
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
});
