// B2 reference (a): a Node.js broadcast server with the `ws` package, the library most
// WebSocket servers in the wild use. Every message goes to every client as its own frame.
// Usage: node server.js PORT
"use strict";
const { WebSocketServer, WebSocket } = require("ws");

const port = Number(process.argv[2] || 18096);
const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
wss.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => {
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
});
console.log(`listening on ${port}`);
