// A token endpoint that takes key-signed assertions, and checks their signature with
// the public half of a key it made itself: RFC 7523's JWT bearer grant (Google
// service accounts) at POST /token, and GitHub's installation tokens at
// POST /app/installations/{id}/access_tokens. GET /api/... echoes the Authorization
// and X-GitHub-Api-Version it was sent.
// Usage: node jwt-issuer.mjs PORT
// Prints {"ready": true, "keys": {pkcs8, pkcs1, other}} once it listens (private keys,
// PEM; `other` is not trusted), then one {"token": {grant, path, claims}} line per token taken.
import http from "node:http";
import crypto from "node:crypto";

const [port] = process.argv.slice(2);
const say = (line) => console.log(JSON.stringify(line));
const pair = () => crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const trusted = pair();
const other = pair();
const keys = {
  pkcs8: trusted.privateKey.export({ type: "pkcs8", format: "pem" }),
  pkcs1: trusted.privateKey.export({ type: "pkcs1", format: "pem" }),
  other: other.privateKey.export({ type: "pkcs8", format: "pem" }),
};
let issued = 0;

/** The claims of an RS256 assertion signed by the trusted key, or null. */
function claimsOf(assertion) {
  const [header, body, signature] = (assertion ?? "").split(".");
  if (!signature) return null;
  const signed = crypto.verify("RSA-SHA256", Buffer.from(`${header}.${body}`), trusted.publicKey, Buffer.from(signature, "base64url"));
  if (!signed || JSON.parse(Buffer.from(header, "base64url")).alg !== "RS256") return null;
  const claims = JSON.parse(Buffer.from(body, "base64url"));
  const now = Date.now() / 1000;
  return claims.exp > now && claims.iat <= now + 5 ? claims : null;
}

http
  .createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const url = new URL(request.url, "http://issuer");
      const json = (status, value) => response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
      if (request.method === "POST" && url.pathname === "/token") {
        const form = new URLSearchParams(body);
        const claims = form.get("grant_type") === "urn:ietf:params:oauth:grant-type:jwt-bearer" ? claimsOf(form.get("assertion")) : null;
        say({ token: { grant: "jwt-bearer", path: url.pathname, claims } });
        if (!claims) return json(400, { error: "invalid_grant" });
        return json(200, { access_token: `ya29-${++issued}`, token_type: "Bearer", expires_in: 2 });
      }
      const installation = url.pathname.match(/^\/app\/installations\/(\d+)\/access_tokens$/);
      if (request.method === "POST" && installation) {
        const claims = claimsOf((request.headers.authorization ?? "").replace(/^Bearer /, ""));
        say({ token: { grant: "github-app", path: url.pathname, claims } });
        if (!claims) return json(401, { message: "A JSON web token could not be decoded" });
        return json(201, { token: `ghs_${++issued}`, expires_at: new Date(Date.now() + 3600_000).toISOString() });
      }
      if (url.pathname.startsWith("/api/")) {
        return json(200, { authorization: request.headers.authorization ?? null, version: request.headers["x-github-api-version"] ?? null });
      }
      json(404, {});
    });
  })
  .listen(Number(port), "127.0.0.1", () => say({ ready: true, keys }));
