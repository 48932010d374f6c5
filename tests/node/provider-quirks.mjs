// oauth2-mock-server (the real npm package) made to behave like a provider of the
// catalog, so a catalog entry's whole flow runs against it. Quirks (comma-separated):
//   basic     the client must authenticate with HTTP Basic (a secret in the body is refused)
//   nested    Withings: needs action=requesttoken, answers {status: 0, body: {token set}}
//   rotating  each refresh answers a new refresh token; a used one is refused (invalid_grant)
//   short     access tokens live 2 seconds
//   revoke-once  the first refresh is refused with invalid_grant (the user revoked access)
//   zendesk   identity answered as {user: {id, email, name}}
//   pipedrive the token answer carries api_domain (https://acme.pipedrive.com)
// Usage: node provider-quirks.mjs PORT QUIRKS
// Prints JSON lines: {"ready": true}, then one per authorize, token and userinfo request.
import { OAuth2Server } from "oauth2-mock-server";

const [port, quirkList] = process.argv.slice(2);
const quirks = new Set((quirkList ?? "").split(",").filter(Boolean));
const say = (line) => console.log(JSON.stringify(line));
const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
const used = new Set();
let refusedOnce = false;
let issued = 0;

server.service.on("beforeAuthorizeRedirect", (_redirect, request) => {
  say({ authorize: request.query });
});

server.service.on("beforeResponse", (response, request) => {
  const form = request.body;
  const basic = (request.headers.authorization ?? "").startsWith("Basic ");
  say({ token: { grant: form.grant_type, basic, secretInBody: "client_secret" in form, form: { ...form, client_secret: undefined } } });
  const refuse = (status, error) => {
    response.statusCode = status;
    response.body = { error };
  };
  if (quirks.has("basic") && (!basic || "client_secret" in form)) return refuse(401, "invalid_client");
  if (quirks.has("nested") && form.action !== "requesttoken") return refuse(400, "invalid_request");
  if (form.grant_type === "refresh_token" && quirks.has("revoke-once") && !refusedOnce) {
    refusedOnce = true;
    return refuse(400, "invalid_grant");
  }
  if (form.grant_type === "refresh_token" && quirks.has("rotating")) {
    if (used.has(form.refresh_token)) return refuse(400, "invalid_grant");
    used.add(form.refresh_token);
  }
  if (response.body.refresh_token !== undefined) response.body.refresh_token = `rt-${++issued}`;
  if (quirks.has("short")) response.body.expires_in = 2;
  if (quirks.has("pipedrive")) response.body.api_domain = "https://acme.pipedrive.com";
  if (quirks.has("nested")) response.body = { status: 0, body: { ...response.body, userid: "w-7" } };
});

server.service.on("beforeUserinfo", (response, request) => {
  say({ userinfo: { authorization: request.headers.authorization ?? null } });
  if (quirks.has("zendesk")) {
    response.body = { user: { id: 4242, email: "ada@acme.example", name: "Ada" } };
  }
});

await server.start(Number(port), "localhost");
say({ ready: true });
