// oauth2-mock-server (the real npm package) issuing access tokens that live
// TTL_SECONDS, telling which refreshes it served, and answering userinfo only for
// the access tokens it issued (as a real provider would; the package's own
// userinfo takes any bearer).
// Usage: node short-lived-tokens.mjs PORT TTL_SECONDS
// Prints "ready" once it listens, then "refresh" for each refresh_token grant.
import { OAuth2Server } from "oauth2-mock-server";

const [port, ttl] = process.argv.slice(2);
const server = new OAuth2Server();
const issued = new Set();
await server.issuer.keys.generate("RS256");
server.service.on("beforeResponse", (response, request) => {
  response.body.expires_in = Number(ttl);
  if (response.body.access_token) issued.add(response.body.access_token);
  if (request.body.grant_type === "refresh_token") console.log("refresh");
});
server.service.on("beforeUserinfo", (response, request) => {
  const bearer = (request.headers.authorization ?? "").replace(/^Bearer /, "");
  if (!issued.has(bearer)) {
    response.statusCode = 401;
    response.body = { error: "invalid_token" };
  }
});
await server.start(Number(port), "localhost");
console.log("ready");
