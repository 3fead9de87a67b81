// uWebSockets (through uWebSockets.js, one event-loop thread) doing what ws-cli's demo does
// for `ws-bench --fanout`: every `/chat` connection subscribes to one topic, `POST /push`
// publishes its body to it with `app.publish` (text), and a message on `/chat` is published
// the same way. Prints `listening at ws://127.0.0.1:PORT` once bound (port 0: any free one).
//
// Install once: `npm install --prefix ws-bench/uws` (package.json pins the version).
'use strict';
const uWS = require('@trufflesuite/uws-js-unofficial');

const TOPIC = 'lobby';
const app = uWS.App();

app.ws('/chat', {
  compression: uWS.DISABLED,
  maxPayloadLength: 16 * 1024 * 1024,
  // Bytes a receiver may have waiting before uWS stops writing to it (ws-cli: 256 KiB).
  maxBackpressure: 256 * 1024,
  idleTimeout: 0,
  open: (ws) => ws.subscribe(TOPIC),
  message: (ws, msg, isBinary) => app.publish(TOPIC, msg, isBinary),
});

app.post('/push', (res) => {
  const chunks = [];
  res.aborted = false;
  res.onAborted(() => { res.aborted = true; });
  res.onData((chunk, last) => {
    chunks.push(Buffer.from(chunk.slice(0)));
    if (!last) return;
    app.publish(TOPIC, Buffer.concat(chunks), false);
    if (!res.aborted) res.end('ok\n');
  });
});

app.listen('127.0.0.1', 0, (listen) => {
  if (!listen) {
    console.error('listen failed');
    process.exit(1);
  }
  console.log('listening at ws://127.0.0.1:' + uWS.us_socket_local_port(listen));
});
