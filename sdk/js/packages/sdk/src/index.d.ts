export type Providers = Record<string, { scopes?: string[] }>;
export type SessionStatus =
  | "pending"
  | "authorizing"
  | "awaiting_confirmation"
  | "completed"
  | "denied"
  | "expired"
  | "failed";

export interface SecurixOptions {
  /**
   * Default: SECURIX_URL, else http://127.0.0.1:8080. Plain http is refused
   * (SecurixConfigError) except on loopback or with `allowInsecureHttp`.
   */
  baseUrl?: string;
  /** Lets a non-loopback `baseUrl` be plain http (the API key then travels in clear). Default: SECURIX_ALLOW_INSECURE_HTTP=1. */
  allowInsecureHttp?: boolean;
  /** Default: SECURIX_API_KEY. */
  apiKey?: string;
  /** Default: SECURIX_AGENT_ID, else "default". */
  agentId?: string;
  /**
   * An agent token (`sxa_…`) in place of the API key: calls as that agent for that
   * token's entity. Default: SECURIX_AGENT_TOKEN.
   */
  agentToken?: string;
  /** Per call; long-polls add their wait. Default 30 000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface CreateSessionRequest {
  entityId: string;
  flow: "popup" | "device";
  providers: Providers;
  /** BASE64URL(SHA256(sxc)); required for the popup flow. */
  sxcChallenge?: string;
  /** The app page's origin the popup reports to (must be an allowed origin). */
  origin?: string;
  /** Seconds. */
  expiresIn?: number;
}

export interface CreatedSession {
  sessionId: string;
  flow: "popup" | "device";
  authUrl: string;
  deviceAuthCode?: string;
  interval?: number;
  expiresAt: string;
}

export interface SessionView {
  sessionId: string;
  status: SessionStatus;
  providers: Record<string, { status: string; connectionId?: string }>;
}

export interface Connection {
  connectionId: string;
  integration: string;
  provider: string;
  account: { id: string; email?: string };
  scopes: string[];
  status: string;
  createdAt: string;
  refreshedAt?: string;
}

export interface WebhookEvent {
  type: string;
  timestamp: string;
  data: {
    eventId: string;
    entityId?: string | null;
    sessionId?: string | null;
    connectionId?: string | null;
    status?: string | null;
  };
}

export interface VerifyOptions {
  /** The raw body, exactly as received. */
  payload: string | Uint8Array;
  headers: Record<string, string | string[] | undefined> | Headers;
  /** `whpk_…` keys; default: the keys SecuriX serves. */
  publicKeys?: string[];
  /** Default 300; anything but a finite number ≥ 0 is a SecurixConfigError. */
  toleranceSeconds?: number;
  /** Seconds since the epoch. */
  now?: number;
}

export interface ProxyOptions {
  /** Required with an API key; an agent token names its entity itself. */
  entityId?: string;
  method?: string;
  /** Sent to the provider; any `securix-*` or `authorization` header among them is dropped. */
  headers?: Record<string, string>;
  body?: BodyInit;
  connectionId?: string;
  signal?: AbortSignal;
}

export type SecurixErrorCode =
  /** SecuriX answered a problem: see `status` and `type`. */
  | "SECURIX_API"
  | "SECURIX_UNREACHABLE"
  | "SECURIX_TIMEOUT"
  /** The caller's `signal` aborted the call. */
  | "SECURIX_ABORTED"
  /** Refused before any request: a missing id, a proxy path that leaves its integration. */
  | "SECURIX_INVALID_ARGUMENT"
  /** A setting that cannot work safely; see SecurixConfigError. */
  | "SECURIX_CONFIG"
  /** The user must connect first; see AuthorizationRequiredError. */
  | "SECURIX_AUTHORIZATION_REQUIRED";

/** Match on `code`, never on `message`. */
export class SecurixError extends Error {
  readonly code: SecurixErrorCode;
  /** The HTTP status, or undefined when SecuriX did not answer. */
  status?: number;
  /** The stable problem type URI. */
  type?: string;
  detail?: string;
  /** `agent-not-allowed` only: what the agent's grant lacks. */
  refused?: "method" | "path" | "integration" | "scopes" | "expired";
}
/**
 * The user an agent called for has not connected yet (or must authorize again): hand
 * them `authUrl` and `deviceAuthCode`, `await securix.auth.waitForAuthorization(error)`,
 * then retry.
 */
export class AuthorizationRequiredError extends SecurixError {
  readonly code: "SECURIX_AUTHORIZATION_REQUIRED";
  sessionId: string;
  authUrl: string;
  deviceAuthCode: string;
  expiresAt: string;
}
/** No API key, an insecure `baseUrl`, a handler without `resolveEntityId` or an allowlist. */
export class SecurixConfigError extends SecurixError {
  readonly code: "SECURIX_CONFIG";
}

export type WebhookVerificationErrorCode =
  | "SECURIX_WEBHOOK_HEADERS"
  | "SECURIX_WEBHOOK_TIMESTAMP"
  | "SECURIX_WEBHOOK_SIGNATURE"
  | "SECURIX_WEBHOOK_PAYLOAD"
  | "SECURIX_WEBHOOK_KEY";

export class WebhookVerificationError extends Error {
  readonly code: WebhookVerificationErrorCode;
}

export function verifyWebhook(options: VerifyOptions & { publicKeys: string[] }): WebhookEvent;

declare class Auth {
  createSession(request: CreateSessionRequest): Promise<CreatedSession>;
  getSession(sessionId: string, options?: { wait?: number; signal?: AbortSignal }): Promise<SessionView>;
  waitForSession(sessionId: string, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<SessionView>;
  /** Waits for the user of an AuthorizationRequiredError; then retry the call. */
  waitForAuthorization(error: AuthorizationRequiredError, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<SessionView>;
  confirm(sessionId: string, sxc: string): Promise<{ status: "completed"; connections: unknown[] }>;
}
declare class Agents {
  /** A token for one agent acting for one entity (60 to 86 400 s; default 3 600). */
  mintToken(agentId: string, request: { entityId: string; expiresIn?: number }): Promise<{ tokenId: string; token: string; expiresAt: string }>;
  revokeToken(agentId: string, tokenId: string): Promise<void>;
}
declare class Connections {
  list(entityId: string): Promise<Connection[]>;
  delete(entityId: string, connectionId: string): Promise<void>;
}
declare class Webhooks {
  keys(): Promise<string[]>;
  verify(options: VerifyOptions): Promise<WebhookEvent>;
}

export class Securix {
  constructor(options?: SecurixOptions);
  readonly baseUrl: string;
  readonly auth: Auth;
  readonly connections: Connections;
  readonly webhooks: Webhooks;
  readonly agents: Agents;
  proxy(integration: string, path: string, options?: ProxyOptions): Promise<Response>;
  request(method: string, path: string, options?: { json?: unknown; headers?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal }): Promise<any>;

  /** The instance configured from SECURIX_URL, SECURIX_API_KEY and SECURIX_AGENT_ID. */
  static readonly default: Securix;
  static readonly auth: Auth;
  static readonly connections: Connections;
  static readonly webhooks: Webhooks;
  static proxy(integration: string, path: string, options: ProxyOptions): Promise<Response>;
}
