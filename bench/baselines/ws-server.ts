import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

/** A bare `ws` server: the memory baseline for as many connections as tidepass has subscribers. */
const server = createServer((request, response) => {
  response.writeHead(request.url === '/ready' ? 200 : 404).end();
});
const wss = new WebSocketServer({ server, path: '/graphql' });
wss.on('connection', (socket) => socket.on('message', () => {}));
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => {
  for (const socket of wss.clients) socket.terminate();
  server.close(() => process.exit(0));
});
