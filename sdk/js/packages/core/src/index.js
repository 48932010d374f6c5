// @securix/core: the three app-backend routes SecurixButton calls. They hold the API key
// server-side; the browser only ever sees session ids, statuses, a binding and its own `sxc`.
//
//   POST {base}/init     {entityId?, providers?, sxcChallenge, origin?}  → {sessionId, authUrl, expiresAt, binding}
//   GET  {base}/status   ?sessionId=…&binding=…&entityId=…&wait=…       → {sessionId, status}
//   POST {base}/confirm  {sessionId, binding, entityId?, sxc}             → {status, connections}
//
// Nothing the browser sends is trusted: the entity is what `resolveEntityId` answers for
// the request, the integrations and scopes are a subset of the handler's own allowlist,
// and status and confirm act only on a session whose binding was issued, by this app's
// secret, for the entity the request resolves to.

import { Securix, SecurixConfigError, SecurixError } from "@securix/sdk";

export { SecurixConfigError, SecurixError };

const MAX_BODY_BYTES = 16 * 1024;
const MAX_WAIT_SECONDS = 25;
const MAX_TEXT = 512;
const MAX_PROVIDERS = 32;
const MAX_SCOPES = 100;
/** How long past the session's expiry a binding still reads its (then final) status. */
const BINDING_GRACE_SECONDS = 10 * 60;
const BINDING = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;
const encoder = new TextEncoder();

/**
 * A Fetch-API handler `(Request) => Promise<Response>` for any server that speaks it
 * (Next.js, Remix, Hono, Bun, Deno, Node's own `Request`).
 *
 * Required, or it throws SecurixConfigError (`code: "SECURIX_CONFIG"`) at once:
 * - `resolveEntityId(request, requestedEntityId, {action})`: the entity the signed-in
 *   user acts for (answer a falsy value to refuse), on every route.
 * - `providers`: the allowlist, `{github: {scopes: ["repo"]}}` or
 *   `(request, entityId) => allowlist`. The browser may name a subset of its integrations
 *   and scopes, never anything outside it.
 */
export function createSecurixHandler(options) {
  const { securix, resolveEntityId, providers, bindingSecret, ...clientOptions } = options ?? {};
  if (typeof resolveEntityId !== "function") {
    throw new SecurixConfigError(
      "createSecurixHandler needs resolveEntityId(request, requestedEntityId): the entity must come from " +
        "your session, never from the page",
    );
  }
  const allowlist = allowlistOf(providers);
  if (bindingSecret !== undefined && (typeof bindingSecret !== "string" || bindingSecret.length < 32)) {
    throw new SecurixConfigError("bindingSecret must be a string of at least 32 characters");
  }
  const client = securix ?? (Object.keys(clientOptions).length ? new Securix(clientOptions) : Securix.default);
  const context = {
    client,
    allowlist,
    binding: bindings(() => bindingSecret ?? client.apiKey),
    async entity(request, requested, action) {
      const entityId = await resolveEntityId(request, requested, { action });
      if (!entityId) throw refusal(403, "entity-refused", "this user may not act for that entity");
      if (typeof entityId !== "string" || entityId.length > MAX_TEXT) {
        throw new SecurixConfigError(`resolveEntityId must answer a string of at most ${MAX_TEXT} characters or a falsy value`);
      }
      return entityId;
    },
  };
  const routes = {
    "POST init": init,
    "GET status": status,
    "POST confirm": confirm,
  };
  return async (request) => {
    const action = new URL(request.url).pathname.replace(/\/+$/, "").split("/").pop();
    const route = routes[`${request.method} ${action}`];
    if (!route) return problem(404, "Not found", "not-found", `no SecuriX route ${request.method} ${action}`);
    try {
      // Only the app's own pages call these routes: a cross-site request (a form posted
      // from another site, with the user's cookies) is refused before anything runs.
      if (request.headers.get("sec-fetch-site") === "cross-site") {
        throw refusal(403, "cross-site", "the SecuriX routes answer the app's own pages only");
      }
      return await route(context, request);
    } catch (error) {
      if (error instanceof Refusal) return problem(error.status, error.title, error.code, error.message);
      if (error instanceof SecurixConfigError) {
        console.error(`@securix/core: ${error.message}`);
        return problem(500, "Internal error", "handler-misconfigured", "the SecuriX handler is misconfigured");
      }
      if (error instanceof SecurixError) {
        if (error.code === "SECURIX_INVALID_ARGUMENT") return problem(400, "Bad request", "bad-request", error.message);
        if (error.status) return problem(error.status, "SecuriX refused", "securix-refused", error.message, error.type);
        // The message names SecuriX's internal address: the log gets it, the page does not.
        console.error(`@securix/core: ${error.message}`);
        return problem(502, "SecuriX unreachable", "securix-unreachable", "SecuriX could not be reached");
      }
      console.error("@securix/core: the handler failed", error);
      return problem(500, "Internal error", "internal", "the SecuriX handler failed");
    }
  };
}

/**
 * Next.js App Router: `app/api/securix/[...securix]/route.js` holds
 * `export const { GET, POST } = toNextJsHandler({ resolveEntityId, providers })`.
 * Accepts the options of createSecurixHandler or a handler it made.
 */
export function toNextJsHandler(handlerOrOptions) {
  const handler = typeof handlerOrOptions === "function" ? handlerOrOptions : createSecurixHandler(handlerOrOptions);
  return { GET: handler, POST: handler };
}

async function init({ client, allowlist, binding, entity }, request) {
  const body = await readJson(request);
  const sxcChallenge = requiredText(body.sxcChallenge, "sxcChallenge");
  const pageOrigin = request.headers.get("origin");
  if (pageOrigin && body.origin !== undefined && pageOrigin !== body.origin) {
    throw badRequest("origin differs from the request's Origin header");
  }
  const entityId = await entity(request, optionalText(body.entityId, "entityId"), "init");
  const chosen = choose(await allowlist(request, entityId), body.providers);
  const created = await client.auth.createSession({
    entityId,
    flow: "popup",
    providers: chosen,
    sxcChallenge,
    origin: pageOrigin ?? optionalText(body.origin, "origin"),
  });
  const expires = Math.ceil((Date.parse(created.expiresAt) || Date.now() + 15 * 60 * 1000) / 1000);
  return json(201, {
    sessionId: created.sessionId,
    authUrl: created.authUrl,
    expiresAt: created.expiresAt,
    binding: await binding.issue(created.sessionId, entityId, expires + BINDING_GRACE_SECONDS),
  });
}

async function status({ client, binding, entity }, request) {
  const query = new URL(request.url).searchParams;
  const sessionId = requiredText(query.get("sessionId") ?? undefined, "sessionId");
  const proof = requiredText(query.get("binding") ?? undefined, "binding");
  const entityId = await entity(request, optionalText(query.get("entityId") ?? undefined, "entityId"), "status");
  await binding.check(proof, sessionId, entityId);
  const wait = Math.min(MAX_WAIT_SECONDS, Math.max(0, Number.parseInt(query.get("wait") ?? "0", 10) || 0));
  const view = await client.auth.getSession(sessionId, { wait, signal: request.signal });
  return json(200, { sessionId: view.sessionId, status: view.status });
}

async function confirm({ client, binding, entity }, request) {
  const body = await readJson(request);
  const sessionId = requiredText(body.sessionId, "sessionId");
  const proof = requiredText(body.binding, "binding");
  const sxc = requiredText(body.sxc, "sxc");
  const entityId = await entity(request, optionalText(body.entityId, "entityId"), "confirm");
  await binding.check(proof, sessionId, entityId);
  return json(200, await client.auth.confirm(sessionId, sxc));
}

// ---- the allowlist ----

/** A function `(request, entityId) => Promise<allowlist>`; a static allowlist is checked now. */
function allowlistOf(providers) {
  if (typeof providers === "function") {
    return async (request, entityId) => {
      const answer = await providers(request, entityId);
      // A falsy answer allows nothing for this user.
      return answer ? normalizedAllowlist(answer, "the providers function's answer") : new Map();
    };
  }
  if (providers === undefined || providers === null) {
    throw new SecurixConfigError(
      "createSecurixHandler needs providers, the integrations and scopes it allows: " +
        '{ github: { scopes: ["repo"] } } or (request, entityId) => that. The page only picks among them',
    );
  }
  const allowed = normalizedAllowlist(providers, "providers");
  if (allowed.size === 0) throw new SecurixConfigError("providers allows no integration");
  return async () => allowed;
}

/** `Map<integration, {scopes?: string[], params?: object}>`, or a SecurixConfigError. */
function normalizedAllowlist(value, name) {
  if (!isPlainObject(value)) {
    throw new SecurixConfigError(`${name} must be an object of integration keys, e.g. { github: { scopes: ["repo"] } }`);
  }
  const allowed = new Map();
  for (const [integration, entry] of Object.entries(value)) {
    if (!integration || integration.length > MAX_TEXT || integration === "__proto__") {
      throw new SecurixConfigError(`${name} has an empty, overlong or reserved integration key`);
    }
    if (!isPlainObject(entry)) throw new SecurixConfigError(`${name}.${integration} must be an object ({} or { scopes: [...] })`);
    for (const key of Object.keys(entry)) {
      if (key !== "scopes" && key !== "params") throw new SecurixConfigError(`${name}.${integration}.${key} is not a setting (scopes, params)`);
    }
    const { scopes, params } = entry;
    if (scopes !== undefined && (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every(isText))) {
      throw new SecurixConfigError(`${name}.${integration}.scopes must be a non-empty list of scope names (or left out)`);
    }
    if (params !== undefined && !isPlainObject(params)) throw new SecurixConfigError(`${name}.${integration}.params must be an object`);
    allowed.set(integration, { scopes: scopes && [...new Set(scopes)], params });
  }
  return allowed;
}

/**
 * What the session asks for: the browser's pick when it names one (a subset of the
 * allowlist's integrations, each with a subset of its scopes), else the whole allowlist.
 * Scopes the browser leaves out are the allowlist's; an allowlist entry without scopes
 * lets the browser ask for none (SecuriX then uses the integration's own).
 */
function choose(allowed, requested) {
  if (requested === undefined || requested === null) {
    if (allowed.size === 0) throw refusal(403, "integration-not-allowed", "this user may connect no integration");
    return Object.fromEntries([...allowed].map(([key, entry]) => [key, sessionEntry(entry, entry.scopes)]));
  }
  if (!isPlainObject(requested)) throw badRequest("providers must be an object of integration keys");
  const keys = Object.keys(requested);
  if (keys.length === 0) throw badRequest("providers names no integration (leave it out to ask for every allowed one)");
  if (keys.length > MAX_PROVIDERS) throw badRequest(`providers names more than ${MAX_PROVIDERS} integrations`);
  const chosen = {};
  for (const key of keys) {
    const entry = allowed.get(key);
    if (!entry) throw refusal(403, "integration-not-allowed", `the integration ${JSON.stringify(key.slice(0, 64))} is not allowed here`);
    const asked = requested[key] ?? {};
    if (!isPlainObject(asked)) throw badRequest(`providers.${key} must be an object`);
    for (const field of Object.keys(asked)) {
      if (field !== "scopes") throw badRequest(`providers.${key}.${field} may not come from the page (only scopes)`);
    }
    if (asked.scopes === undefined) {
      chosen[key] = sessionEntry(entry, entry.scopes);
      continue;
    }
    if (!Array.isArray(asked.scopes) || asked.scopes.length === 0 || asked.scopes.length > MAX_SCOPES || !asked.scopes.every(isText)) {
      throw badRequest(`providers.${key}.scopes must be a non-empty list of scope names (or left out)`);
    }
    const permitted = new Set(entry.scopes ?? []);
    const outside = asked.scopes.find((scope) => !permitted.has(scope));
    if (outside !== undefined) {
      throw refusal(403, "scope-not-allowed", `the scope ${JSON.stringify(outside.slice(0, 64))} is not allowed for ${key}`);
    }
    chosen[key] = sessionEntry(entry, [...new Set(asked.scopes)]);
  }
  return chosen;
}

function sessionEntry(entry, scopes) {
  const session = {};
  if (scopes) session.scopes = scopes;
  if (entry.params) session.params = entry.params;
  return session;
}

// ---- the session binding ----
//
// SecuriX's session view names no entity, so the handler remembers nothing and signs
// instead: `v1.{exp}.{HMAC-SHA256(key, ["v1", sessionId, entityId, exp])}`, the key derived
// (HKDF) from `bindingSecret` or the API key. Any instance of the app holding the same
// secret checks it; a binding issued for one entity opens nothing for another.

function bindings(secretOf) {
  let cached;
  const key = () => {
    const secret = secretOf();
    if (!secret) throw new SecurixConfigError("no secret for session bindings: pass { bindingSecret } or an API key");
    if (cached?.secret !== secret) cached = { secret, key: deriveKey(secret) };
    return cached.key;
  };
  const message = (sessionId, entityId, exp) => encoder.encode(JSON.stringify(["v1", sessionId, entityId, exp]));
  return {
    async issue(sessionId, entityId, exp) {
      const subtle = await webCrypto();
      const mac = await subtle.sign("HMAC", await key(), message(sessionId, entityId, exp));
      return `v1.${exp}.${base64url(new Uint8Array(mac))}`;
    },
    async check(binding, sessionId, entityId) {
      const match = BINDING.exec(binding);
      const invalid = () => refusal(403, "session-binding-invalid", "this session was not started for this user");
      if (!match) throw invalid();
      const exp = Number(match[1]);
      if (exp * 1000 < Date.now()) throw refusal(403, "session-binding-expired", "this session's binding has expired");
      const subtle = await webCrypto();
      // subtle.verify compares in constant time.
      const valid = await subtle.verify("HMAC", await key(), fromBase64url(match[2]), message(sessionId, entityId, exp));
      if (!valid) throw invalid();
    },
  };
}

async function deriveKey(secret) {
  const subtle = await webCrypto();
  const base = await subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
  return subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: encoder.encode("@securix/core"), info: encoder.encode("session binding v1") },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
}

async function webCrypto() {
  return globalThis.crypto?.subtle ?? (await import("node:crypto")).webcrypto.subtle;
}

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

// ---- requests and answers ----

/** A refusal with its HTTP status and a stable `code`, answered as problem+json. */
class Refusal extends Error {
  constructor(status, code, message, title = status === 403 ? "Forbidden" : "Bad request") {
    super(message);
    this.status = status;
    this.code = code;
    this.title = title;
  }
}

function refusal(status, code, message) {
  return new Refusal(status, code, message);
}

function badRequest(message, code = "bad-request") {
  return new Refusal(400, code, message);
}

/** The body as a JSON object, read to at most MAX_BODY_BYTES whatever Content-Length says. */
async function readJson(request) {
  // application/json also makes a cross-origin fetch preflight, which these routes never pass.
  if (!/^application\/json\s*(;|$)/i.test(request.headers.get("content-type") ?? "")) {
    throw new Refusal(415, "unsupported-media-type", "the body must be application/json", "Unsupported media type");
  }
  const tooLarge = () => badRequest(`the body is larger than ${MAX_BODY_BYTES} bytes`, "body-too-large");
  if (Number(request.headers.get("content-length") ?? 0) > MAX_BODY_BYTES) throw tooLarge();
  const bytes = new Uint8Array(MAX_BODY_BYTES);
  let length = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (length + value.byteLength > MAX_BODY_BYTES) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      bytes.set(value, length);
      length += value.byteLength;
    }
  }
  let value;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, length)));
  } catch {
    throw badRequest("the body is not JSON");
  }
  if (!isPlainObject(value)) throw badRequest("the body must be a JSON object");
  return value;
}

function isPlainObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isText(value) {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_TEXT;
}

function requiredText(value, name) {
  if (!isText(value)) throw badRequest(`${name} is required (a string of at most ${MAX_TEXT} characters)`);
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

function problem(status, title, code, detail, type) {
  return new Response(JSON.stringify({ ...(type ? { type } : {}), title, status, code, detail }), {
    status,
    headers: { "content-type": "application/problem+json", "cache-control": "no-store" },
  });
}
