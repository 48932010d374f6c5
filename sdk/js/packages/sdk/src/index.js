// @securix/sdk: SecuriX's HTTP API for Node backends. It holds the API key, so it
// must never be bundled into a browser page.

import { AuthorizationRequiredError, SecurixConfigError, SecurixError } from "./errors.js";
import { verifyWebhook } from "./webhooks.js";

const DEFAULT_TIMEOUT_MS = 30_000;
/** Headers only the SDK sets on a proxy call: a caller's copy, in any case, is dropped. */
const RESERVED_PROXY_HEADER = /^(securix-.*|authorization)$/i;
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

export class Securix {
  /**
   * Options default to the environment: SECURIX_URL, SECURIX_API_KEY, SECURIX_AGENT_ID,
   * SECURIX_AGENT_TOKEN. With an `agentToken` (`sxa_…`, minted by the app for one agent
   * and one entity) the client calls as that agent for that entity and needs no API key:
   * what an agent's process should hold. A `baseUrl` on plain http is refused
   * (SecurixConfigError) unless it is loopback or `allowInsecureHttp`
   * (SECURIX_ALLOW_INSECURE_HTTP=1) says so: every call carries the secret.
   */
  constructor(options = {}) {
    const env = globalThis.process?.env ?? {};
    this.baseUrl = checkedBaseUrl(
      options.baseUrl ?? env.SECURIX_URL ?? "http://127.0.0.1:8080",
      options.allowInsecureHttp ?? env.SECURIX_ALLOW_INSECURE_HTTP === "1",
    );
    this.apiKey = options.apiKey ?? env.SECURIX_API_KEY;
    this.agentId = options.agentId ?? env.SECURIX_AGENT_ID ?? "default";
    this.agentToken = options.agentToken ?? env.SECURIX_AGENT_TOKEN;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.auth = new Auth(this);
    this.connections = new Connections(this);
    this.webhooks = new Webhooks(this);
    this.agents = new Agents(this);
  }

  /** The instance configured from the environment, as in `Securix.auth.createSession(…)`. */
  static get default() {
    Securix.shared ??= new Securix();
    return Securix.shared;
  }
  static get auth() {
    return Securix.default.auth;
  }
  static get connections() {
    return Securix.default.connections;
  }
  static get webhooks() {
    return Securix.default.webhooks;
  }
  static proxy(integration, path, options) {
    return Securix.default.proxy(integration, path, options);
  }

  /**
   * Calls a provider API as `entityId` through SecuriX, which adds the token. Answers the
   * provider's `Response` as it is (any status); throws only when SecuriX itself refuses.
   *
   * `path` stays under `/v1/proxy/{integration}/`: one that would climb out of it (`..`,
   * `%2e%2e`, `\`) is refused before any request, so a path taken from a user never
   * reaches another API route with the app's key. The caller's `securix-*` and
   * `authorization` headers are dropped: the entity and connection are only ever the ones
   * named here.
   */
  async proxy(integration, path, { entityId, method = "GET", headers = {}, body, connectionId, signal } = {}) {
    const url = this.proxyPath(integration, path);
    const outgoing = new Headers(headers);
    for (const name of [...outgoing.keys()]) {
      if (RESERVED_PROXY_HEADER.test(name)) outgoing.delete(name);
    }
    // An agent token names the entity itself.
    if (!this.agentToken) outgoing.set("securix-entity-id", requireText(entityId, "entityId"));
    if (connectionId !== undefined && connectionId !== null) outgoing.set("securix-connection-id", requireText(connectionId, "connectionId"));
    const response = await this.send(method, url, { headers: outgoing, body, signal });
    if (response.headers.get("content-type")?.startsWith("application/problem+json")) {
      throw await problemError(response);
    }
    return response;
  }

  /** `/v1/proxy/{integration}/{path}`, refused when a URL parser would resolve it elsewhere. */
  proxyPath(integration, path) {
    const prefix = `/v1/proxy/${segment(integration, "integration")}/`;
    const rest = String(path ?? "").replace(/^[/\\]+/, "");
    const base = new URL(`${this.baseUrl}${prefix}`);
    const resolved = new URL(`${this.baseUrl}${prefix}${rest}`);
    if (!resolved.href.startsWith(base.href)) {
      throw invalidArgument(`the proxy path ${JSON.stringify(String(path).slice(0, 80))} leaves /v1/proxy/${integration}/`);
    }
    // The path as every URL parser will read it: what was checked is what is sent.
    return resolved.href.slice(this.baseUrl.length);
  }

  /** One JSON call to the API; throws a SecurixError on any non-2xx answer. */
  async request(method, path, { json, headers, timeoutMs, signal } = {}) {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const outgoing = new Headers(headers);
    if (json !== undefined) outgoing.set("content-type", "application/json");
    const response = await this.send(method, path, { headers: outgoing, body, timeoutMs, signal });
    if (!response.ok) throw await problemError(response);
    return response.status === 204 ? undefined : response.json();
  }

  async send(method, path, { headers = {}, body, timeoutMs = this.timeoutMs, signal } = {}) {
    if (!this.apiKey && !this.agentToken) {
      throw new SecurixConfigError("no API key: pass { apiKey } or set SECURIX_API_KEY (an agent: { agentToken })");
    }
    // The SDK's own identity headers replace any copy the caller passed, whatever its case.
    const outgoing = new Headers(headers);
    if (this.agentToken) {
      outgoing.set("authorization", `Bearer ${this.agentToken}`);
    } else {
      outgoing.set("securix-api-key", this.apiKey);
      outgoing.set("securix-agent-id", this.agentId);
    }
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await this.fetch(`${this.baseUrl}${path}`, {
        method,
        headers: outgoing,
        body,
        duplex: body && typeof body.getReader === "function" ? "half" : undefined,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      // Never echo the request (it carries the API key); the code and message name the failure.
      if (signal?.aborted) {
        throw new SecurixError(`the call to SecuriX at ${this.baseUrl} was aborted`, { code: "SECURIX_ABORTED" });
      }
      if (timeout.aborted) {
        throw new SecurixError(`SecuriX at ${this.baseUrl} could not be reached: timed out after ${timeoutMs} ms`, {
          code: "SECURIX_TIMEOUT",
        });
      }
      throw new SecurixError(`SecuriX at ${this.baseUrl} could not be reached: ${error?.message}`, {
        code: "SECURIX_UNREACHABLE",
      });
    }
  }
}

class Auth {
  constructor(client) {
    this.client = client;
  }

  /**
   * Starts a popup or device session. Answers `{sessionId, flow, authUrl, expiresAt}` and,
   * for the device flow, `deviceAuthCode` and `interval` (seconds).
   */
  async createSession({ entityId, flow, providers, sxcChallenge, origin, expiresIn } = {}) {
    requireText(entityId, "entityId");
    if (flow !== "popup" && flow !== "device") throw invalidArgument('flow must be "popup" or "device"');
    if (flow === "popup") requireText(sxcChallenge, "sxcChallenge");
    return this.client.request("POST", "/v1/sessions", {
      json: { entityId, flow, providers, sxcChallenge, origin, expiresIn },
    });
  }

  /** The session's status; with `wait` (seconds, ≤ 60) it long-polls until it changes. */
  async getSession(sessionId, { wait, signal } = {}) {
    const query = wait ? `?wait=${Math.min(60, Math.max(0, Math.floor(wait)))}` : "";
    return this.client.request("GET", `/v1/sessions/${segment(sessionId, "sessionId")}${query}`, {
      timeoutMs: this.client.timeoutMs + (wait ?? 0) * 1000,
      signal,
    });
  }

  /** Long-polls until the session leaves `pending`/`authorizing`; answers its last view. */
  async waitForSession(sessionId, { timeoutMs = 15 * 60 * 1000, signal } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const remaining = Math.ceil((deadline - Date.now()) / 1000);
      const view = await this.getSession(sessionId, { wait: Math.min(25, Math.max(0, remaining)), signal });
      if (!["pending", "authorizing"].includes(view.status) || remaining <= 0) return view;
    }
  }

  /**
   * Waits until the user completes (or abandons) the session an
   * `AuthorizationRequiredError` names; answers its last view. Then retry the call.
   */
  async waitForAuthorization(error, options) {
    if (!(error instanceof AuthorizationRequiredError)) throw invalidArgument("not an AuthorizationRequiredError");
    return this.waitForSession(error.sessionId, options);
  }

  /** Activates a popup session's connections with the browser's `sxc` (once). */
  async confirm(sessionId, sxc) {
    const session = segment(sessionId, "sessionId");
    requireText(sxc, "sxc");
    return this.client.request("POST", `/v1/sessions/${session}/confirm`, { json: { sxc } });
  }
}

class Connections {
  constructor(client) {
    this.client = client;
  }

  /** The entity's connections: ids, provider, account and scopes; never a token. */
  async list(entityId) {
    return this.client.request("GET", `/v1/entities/${segment(entityId, "entityId")}/connections`);
  }

  /** Revokes at the provider (when it can) and deletes the vaulted tokens. */
  async delete(entityId, connectionId) {
    const entity = segment(entityId, "entityId");
    const connection = segment(connectionId, "connectionId");
    return this.client.request("DELETE", `/v1/entities/${entity}/connections/${connection}`);
  }
}

class Webhooks {
  constructor(client) {
    this.client = client;
  }

  /** The project's webhook public keys (`whpk_…`). */
  async keys() {
    const answer = await this.client.request("GET", "/v1/webhooks/keys");
    return answer.keys.filter((key) => key.status !== "retired").map((key) => key.publicKey);
  }

  /**
   * Verifies a delivery and answers its parsed event. `publicKeys` defaults to the keys
   * SecuriX serves (fetched on every call; cache them in hot paths).
   */
  async verify({ payload, headers, publicKeys, toleranceSeconds, now } = {}) {
    const keys = publicKeys ?? (await this.keys());
    return verifyWebhook({ payload, headers, publicKeys: keys, toleranceSeconds, now });
  }
}

class Agents {
  constructor(client) {
    this.client = client;
  }

  /**
   * Mints a token for `agentId` acting for `entityId` (60 s to 24 h; default 1 h).
   * Answers `{tokenId, token, expiresAt}`: give `token` to the agent's process in place
   * of the API key, and log it nowhere.
   */
  async mintToken(agentId, { entityId, expiresIn } = {}) {
    requireText(entityId, "entityId");
    return this.client.request("POST", `/v1/agents/${segment(agentId, "agentId")}/tokens`, {
      json: { entityId, expiresIn },
    });
  }

  /** Revokes a token at once. */
  async revokeToken(agentId, tokenId) {
    const agent = segment(agentId, "agentId");
    return this.client.request("DELETE", `/v1/agents/${agent}/tokens/${segment(tokenId, "tokenId")}`);
  }
}

async function problemError(response) {
  const problem = await response.json().catch(() => ({}));
  const title = problem.title ?? `SecuriX answered ${response.status}`;
  const message = problem.detail ? `${title}: ${problem.detail}` : title;
  const fields = { status: response.status, type: problem.type, detail: problem.detail };
  if (String(problem.type).endsWith("/authorization-required") && typeof problem.sessionId === "string") {
    const { sessionId, authUrl, deviceAuthCode, expiresAt } = problem;
    return new AuthorizationRequiredError(message, { ...fields, sessionId, authUrl, deviceAuthCode, expiresAt });
  }
  return new SecurixError(message, { ...fields, code: "SECURIX_API", refused: problem.refused });
}

function requireText(value, name) {
  if (typeof value !== "string" || value.length === 0) throw invalidArgument(`${name} is required`);
  return value;
}

/** One path segment: encoded, and never `.` or `..`, which URL parsers resolve away. */
function segment(value, name) {
  requireText(value, name);
  if (value === "." || value === "..") throw invalidArgument(`${name} may not be "${value}"`);
  return encodeURIComponent(value);
}

function invalidArgument(message) {
  return new SecurixError(message, { code: "SECURIX_INVALID_ARGUMENT" });
}

function checkedBaseUrl(text, allowInsecureHttp) {
  let url;
  try {
    url = new URL(String(text));
  } catch {
    throw new SecurixConfigError(`baseUrl is not a URL: ${String(text).slice(0, 80)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new SecurixConfigError(`baseUrl must be https (or http on loopback), not ${url.protocol}`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new SecurixConfigError("baseUrl may not carry credentials, a query or a fragment");
  }
  if (url.protocol === "http:" && !LOOPBACK_HOST.test(url.hostname) && allowInsecureHttp !== true) {
    throw new SecurixConfigError(
      `baseUrl ${url.origin} is plain http: every call would send the API key in clear. ` +
        "Use https, or pass { allowInsecureHttp: true } (SECURIX_ALLOW_INSECURE_HTTP=1) on a private network",
    );
  }
  return url.href.replace(/\/+$/, "");
}

export { AuthorizationRequiredError, SecurixConfigError, SecurixError, WebhookVerificationError } from "./errors.js";
export { verifyWebhook } from "./webhooks.js";
