import net from 'node:net';
import { DatabaseReadTimeout } from './errors.js';

/**
 * postgres.js has no client-side query timeout, and statement_timeout is enforced by the server:
 * when the network path hangs (the server is gone without a reset, a partition, a stuck proxy), a
 * query waits for ever. This socket factory (postgres.js's `socket` option) destroys a connection
 * that has been waiting for the rest of an answer for `readTimeoutMs`, which fails its queries
 * (SERVICE_UNAVAILABLE) and frees its pool slot.
 *
 * "Waiting": something was written and the server's answer has not ended with ReadyForQuery. Each
 * chunk received restarts the clock; an idle connection (after ReadyForQuery) is never timed.
 * `readTimeoutMs` must exceed statement_timeout so that a slow statement gets the server's answer.
 */
export function watchedSocket(readTimeoutMs: number) {
  // postgres.js calls this instead of creating its own net.Socket; it then writes at once (a socket
  // still connecting buffers) and applies connect_timeout itself. Only the first host is used.
  return (options: { host: string[]; port: number[]; path?: string | false }): net.Socket => {
    const socket = options.path ? net.connect(options.path) : net.connect(options.port[0]!, options.host[0]);
    let timer: NodeJS.Timeout | undefined;
    const disarm = () => {
      clearTimeout(timer);
      timer = undefined;
    };
    const arm = () => {
      disarm();
      timer = setTimeout(() => {
        timer = undefined;
        socket.destroy(new DatabaseReadTimeout(`no answer from the database within ${readTimeoutMs} ms`));
      }, readTimeoutMs);
      timer.unref();
    };
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((...args: unknown[]) => {
      if (!timer && !socket.destroyed) arm();
      return write(...args);
    });
    socket.on('data', (chunk: Buffer) => (endsWithReadyForQuery(chunk) ? disarm() : arm()));
    socket.once('close', disarm);
    return socket;
  };
}

/** ReadyForQuery: 'Z', length 5, transaction status (I, T or E). The end of every answer. */
function endsWithReadyForQuery(chunk: Buffer): boolean {
  const at = chunk.length - 6;
  return at >= 0 && chunk[at] === 0x5a && chunk.readUInt32BE(at + 1) === 5;
}
