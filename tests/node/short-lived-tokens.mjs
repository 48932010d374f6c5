// oauth2-mock-server (the real npm package) issuing access tokens that live
// TTL_SECONDS, and telling which refreshes it served.
// Usage: node short-lived-tokens.mjs PORT TTL_SECONDS
// Prints "ready" once it listens, then "refresh" for each refresh_token grant.
import { OAuth2Server } from "oauth2-mock-server";

const [port, ttl] = process.argv.slice(2);
const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
server.service.on("beforeResponse", (response, request) => {
  response.body.expires_in = Number(ttl);
  if (request.body.grant_type === "refresh_token") console.log("refresh");
});
await server.start(Number(port), "localhost");
console.log("ready");
