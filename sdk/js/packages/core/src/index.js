// @securix/core: the three app-backend routes SecurixButton calls. They hold the API key
// server-side; the browser only ever sees session ids, statuses and its own `sxc`.
//
//   POST {base}/init     {entityId, providers, sxcChallenge}  → {sessionId, authUrl, expiresAt}
//   GET  {base}/status   ?sessionId=…&wait=…                  → {sessionId, status}
//   POST {base}/confirm  {sessionId, sxc}                     → {status, connections}

import { Securix, SecurixError } from "@securix/sdk";

const MAX_BODY_BYTES = 16 * 1024;
const MAX_WAIT_SECONDS = 25;

/**
 * A Fetch-API handler `(Request) => Promise<Response>` for any server that speaks it
 * (Next.js, Remix, Hono, Bun, Deno, Node's own `Request`).
 *
 * `resolveEntityId(request, requestedEntityId)` decides which entity the signed-in user
 * may connect (answer a falsy value to refuse). The default trusts the page's
 * `entityId`, which only suits demos: a real app answers its session's user here.
 */
export function createSecurixHandler({ securix, resolveEntityId, ...clientOptions } = {}) {
  const client = securix ?? (Object.keys(clientOptions).length ? new Securix(clientOptions) : Securix.default);
  const resolve = resolveEntityId ?? ((_request, requested) => requested);
  const routes = {
    "POST init": (request) => init(client, resolve, request),
    "GET status": (request) => status(client, request),
    "POST confirm": (request) => confirm(client, request),
  };
  return async (request) => {
    const action = new URL(request.url).pathname.replace(/\/+$/, "").split("/").pop();
    const route = routes[`${request.method} ${action}`];
    if (!route) return problem(404, "Not found", `no SecuriX route ${request.method} ${action}`);
    try {
      return await route(request);
    } catch (error) {
      if (error instanceof BadRequest) return problem(400, "Bad request", error.message);
      if (error instanceof SecurixError) {
        return problem(error.status ?? 502, error.status ? "SecuriX refused" : "SecuriX unreachable", error.message);
      }
      return problem(500, "Internal error", "the SecuriX handler failed");
    }
  };
}

/**
 * Next.js App Router: `app/api/securix/[...securix]/route.js` holds
 * `export const { GET, POST } = toNextJsHandler({ resolveEntityId })`.
 * Accepts the options of createSecurixHandler or a handler it made.
 */
export function toNextJsHandler(handlerOrOptions = {}) {
  const handler = typeof handlerOrOptions === "function" ? handlerOrOptions : createSecurixHandler(handlerOrOptions);
  return { GET: handler, POST: handler };
}

async function init(client, resolve, request) {
  const body = await readJson(request);
  const requested = optionalText(body.entityId, "entityId");
  const entityId = await resolve(request, requested);
  if (!entityId) return problem(403, "Forbidden", "this user may not connect that entity");
  const pageOrigin = request.headers.get("origin");
  if (pageOrigin && body.origin && pageOrigin !== body.origin) {
    throw new BadRequest("origin differs from the request's Origin header");
  }
  if (!body.providers || typeof body.providers !== "object" || Array.isArray(body.providers)) {
    throw new BadRequest("providers must be an object of integration keys");
  }
  const created = await client.auth.createSession({
    entityId,
    flow: "popup",
    providers: body.providers,
    sxcChallenge: requiredText(body.sxcChallenge, "sxcChallenge"),
    origin: pageOrigin ?? optionalText(body.origin, "origin"),
  });
  return json(201, { sessionId: created.sessionId, authUrl: created.authUrl, expiresAt: created.expiresAt });
}

async function status(client, request) {
  const query = new URL(request.url).searchParams;
  const sessionId = requiredText(query.get("sessionId") ?? undefined, "sessionId");
  const wait = Math.min(MAX_WAIT_SECONDS, Math.max(0, Number.parseInt(query.get("wait") ?? "0", 10) || 0));
  const view = await client.auth.getSession(sessionId, { wait, signal: request.signal });
  return json(200, { sessionId: view.sessionId, status: view.status });
}

async function confirm(client, request) {
  const body = await readJson(request);
  const sessionId = requiredText(body.sessionId, "sessionId");
  const confirmed = await client.auth.confirm(sessionId, requiredText(body.sxc, "sxc"));
  return json(200, confirmed);
}

class BadRequest extends Error {}

async function readJson(request) {
  const length = Number(request.headers.get("content-length") ?? 0);
  if (length > MAX_BODY_BYTES) throw new BadRequest(`the body is larger than ${MAX_BODY_BYTES} bytes`);
  const text = await request.text();
  if (text.length > MAX_BODY_BYTES) throw new BadRequest(`the body is larger than ${MAX_BODY_BYTES} bytes`);
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadRequest("the body is not JSON");
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new BadRequest("the body must be a JSON object");
  return value;
}

function requiredText(value, name) {
  if (typeof value !== "string" || value.length === 0 || value.length > 512) {
    throw new BadRequest(`${name} is required (a string of at most 512 characters)`);
  }
  return value;
}

function optionalText(value, name) {
  return value === undefined || value === null ? undefined : requiredText(value, name);
}

function json(status, body) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

function problem(status, title, detail) {
  return new Response(JSON.stringify({ title, status, detail }), {
    status,
    headers: { "content-type": "application/problem+json", "cache-control": "no-store" },
  });
}
