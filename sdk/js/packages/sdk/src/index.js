// @securix/sdk: SecuriX's HTTP API for Node backends. It holds the API key, so it
// must never be bundled into a browser page.

import { verifyWebhook } from "./webhooks.js";

const DEFAULT_TIMEOUT_MS = 30_000;

/** A SecuriX error answer (RFC 9457 problem+json) or a transport failure. */
export class SecurixError extends Error {
  constructor(message, { status, type, detail } = {}) {
    super(message);
    this.name = "SecurixError";
    /** The HTTP status, or undefined when SecuriX could not be reached. */
    this.status = status;
    /** The stable problem type URI. */
    this.type = type;
    this.detail = detail;
  }
}

export class Securix {
  /**
   * Options default to the environment: SECURIX_URL, SECURIX_API_KEY, SECURIX_AGENT_ID.
   */
  constructor(options = {}) {
    const env = globalThis.process?.env ?? {};
    this.baseUrl = (options.baseUrl ?? env.SECURIX_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
    this.apiKey = options.apiKey ?? env.SECURIX_API_KEY;
    this.agentId = options.agentId ?? env.SECURIX_AGENT_ID ?? "default";
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.auth = new Auth(this);
    this.connections = new Connections(this);
    this.webhooks = new Webhooks(this);
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
   */
  async proxy(integration, path, { entityId, method = "GET", headers = {}, body, connectionId, signal } = {}) {
    const extra = { "securix-entity-id": requireText(entityId, "entityId") };
    if (connectionId) extra["securix-connection-id"] = connectionId;
    const url = `/v1/proxy/${encodeURIComponent(integration)}/${String(path).replace(/^\/+/, "")}`;
    const response = await this.send(method, url, { headers: { ...headers, ...extra }, body, signal });
    if (response.headers.get("content-type")?.startsWith("application/problem+json")) {
      throw await problemError(response);
    }
    return response;
  }

  /** One JSON call to the API; throws a SecurixError on any non-2xx answer. */
  async request(method, path, { json, headers, timeoutMs, signal } = {}) {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const jsonHeaders = json === undefined ? {} : { "content-type": "application/json" };
    const response = await this.send(method, path, {
      headers: { ...jsonHeaders, ...headers },
      body,
      timeoutMs,
      signal,
    });
    if (!response.ok) throw await problemError(response);
    return response.status === 204 ? undefined : response.json();
  }

  async send(method, path, { headers = {}, body, timeoutMs = this.timeoutMs, signal } = {}) {
    if (!this.apiKey) {
      throw new SecurixError("no API key: pass { apiKey } or set SECURIX_API_KEY");
    }
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await this.fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { ...headers, "securix-api-key": this.apiKey, "securix-agent-id": this.agentId },
        body,
        duplex: body && typeof body.getReader === "function" ? "half" : undefined,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      // Never echo the request (it carries the API key); the cause names the failure.
      const reason = error?.name === "TimeoutError" ? `timed out after ${timeoutMs} ms` : error?.message;
      throw new SecurixError(`SecuriX at ${this.baseUrl} could not be reached: ${reason}`);
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
  async createSession({ entityId, flow, providers, sxcChallenge, origin, expiresIn }) {
    requireText(entityId, "entityId");
    if (flow !== "popup" && flow !== "device") throw new SecurixError('flow must be "popup" or "device"');
    if (flow === "popup") requireText(sxcChallenge, "sxcChallenge");
    return this.client.request("POST", "/v1/sessions", {
      json: { entityId, flow, providers, sxcChallenge, origin, expiresIn },
    });
  }

  /** The session's status; with `wait` (seconds, ≤ 60) it long-polls until it changes. */
  getSession(sessionId, { wait, signal } = {}) {
    const query = wait ? `?wait=${Math.min(60, Math.max(0, Math.floor(wait)))}` : "";
    return this.client.request("GET", `/v1/sessions/${encodeURIComponent(sessionId)}${query}`, {
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

  /** Activates a popup session's connections with the browser's `sxc` (once). */
  async confirm(sessionId, sxc) {
    requireText(sxc, "sxc");
    return this.client.request("POST", `/v1/sessions/${encodeURIComponent(sessionId)}/confirm`, {
      json: { sxc },
    });
  }
}

class Connections {
  constructor(client) {
    this.client = client;
  }

  /** The entity's connections: ids, provider, account and scopes; never a token. */
  async list(entityId) {
    return this.client.request("GET", `/v1/entities/${encodeURIComponent(requireText(entityId, "entityId"))}/connections`);
  }

  /** Revokes at the provider (when it can) and deletes the vaulted tokens. */
  async delete(entityId, connectionId) {
    const entity = encodeURIComponent(requireText(entityId, "entityId"));
    const connection = encodeURIComponent(requireText(connectionId, "connectionId"));
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

async function problemError(response) {
  const problem = await response.json().catch(() => ({}));
  const title = problem.title ?? `SecuriX answered ${response.status}`;
  const message = problem.detail ? `${title}: ${problem.detail}` : title;
  return new SecurixError(message, { status: response.status, type: problem.type, detail: problem.detail });
}

function requireText(value, name) {
  if (typeof value !== "string" || value.length === 0) throw new SecurixError(`${name} is required`);
  return value;
}

export { verifyWebhook, WebhookVerificationError } from "./webhooks.js";
