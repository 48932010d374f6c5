// A webhook receiver that verifies Standard Webhooks v1a signatures with Node's own
// ed25519 (crypto.verify), not SecuriX's code. Usage: node receiver.mjs PORT WHPK_KEY
// It prints one JSON line per delivery: {id, type, valid, tamperedBodyValid, tamperedIdValid, tamperedTimestampValid}.
import http from "node:http";
import crypto from "node:crypto";

const [port, publicKeyText] = process.argv.slice(2);
const raw = Buffer.from(publicKeyText.replace(/^whpk_/, ""), "base64");
// An Ed25519 SubjectPublicKeyInfo: the fixed DER prefix, then the 32 key bytes.
const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), raw]);
const key = crypto.createPublicKey({ key: spki, format: "der", type: "spki" });

function verify(id, timestamp, body, header) {
  const content = Buffer.from(`${id}.${timestamp}.${body}`);
  return header.split(" ").some((part) => {
    if (!part.startsWith("v1a,")) return false;
    return crypto.verify(null, content, key, Buffer.from(part.slice(4), "base64"));
  });
}

http
  .createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const id = request.headers["webhook-id"] ?? "";
      const timestamp = request.headers["webhook-timestamp"] ?? "";
      const signature = request.headers["webhook-signature"] ?? "";
      const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) <= 300;
      const valid = fresh && verify(id, timestamp, body, signature);
      const tamperedBodyValid = verify(id, timestamp, body.replace("connection", "c0nnection"), signature);
      const tamperedIdValid = verify(id + "x", timestamp, body, signature);
      const tamperedTimestampValid = verify(id, String(Number(timestamp) + 1), body, signature);
      let type = null;
      try { type = JSON.parse(body).type; } catch {}
      console.log(JSON.stringify({ id, type, valid, tamperedBodyValid, tamperedIdValid, tamperedTimestampValid, body }));
      response.writeHead(valid ? 204 : 400).end();
    });
  })
  .listen(Number(port), "127.0.0.1", () => console.log(JSON.stringify({ listening: Number(port) })));
