import type { WebSocket } from 'ws';

/** graphql-ws's default: a ping every 12 s, answered before the next. */
const KEEP_ALIVE_MS = 12_000;

/** Pings every socket; one that has not answered by the next round is dead and terminated. */
export class KeepAlive {
  readonly #awaitingPong = new Set<WebSocket>();
  readonly #timer: NodeJS.Timeout;
  /** Shared by every socket (`this` is the socket), rather than a closure of each. */
  readonly #onPong: (this: WebSocket) => void;

  constructor(sockets: ReadonlySet<WebSocket>) {
    const awaitingPong = this.#awaitingPong;
    this.#onPong = function (this: WebSocket) {
      awaitingPong.delete(this);
    };
    this.#timer = setInterval(() => this.#round(sockets), KEEP_ALIVE_MS);
    this.#timer.unref();
  }

  watch(socket: WebSocket): void {
    socket.on('pong', this.#onPong);
  }

  forget(socket: WebSocket): void {
    this.#awaitingPong.delete(socket);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #round(sockets: ReadonlySet<WebSocket>): void {
    for (const socket of sockets) {
      if (this.#awaitingPong.has(socket)) {
        this.#awaitingPong.delete(socket);
        socket.terminate();
      } else if (socket.readyState === socket.OPEN) {
        this.#awaitingPong.add(socket);
        socket.ping();
      }
    }
  }
}
