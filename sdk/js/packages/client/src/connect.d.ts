/** Scopes asked for each integration key of the project (`gmail`, `github`, …). */
export type Providers = Record<string, { scopes?: string[] }>;

export interface ConnectOptions {
  /** The end user the connections belong to: a hint; the app backend resolves the entity from its own session. */
  entityId: string;
  /** A subset of what the app backend allows (default: all of it); anything outside is refused. */
  providers?: Providers;
  /** App-backend routes (see @securix/core). Defaults: /api/securix/{init,status,confirm}. */
  initUrl?: string;
  statusUrl?: string;
  confirmUrl?: string;
  /** Extra headers for the app-backend calls, e.g. a CSRF token. */
  headers?: Record<string, string>;
  /** SecuriX's URL: when set, an init answer whose `authUrl` is elsewhere is refused (`untrusted-auth-url`). */
  securixOrigin?: string;
  popup?: { width?: number; height?: number };
}

export type FailureReason =
  | "popup_blocked"
  | "closed"
  | "denied"
  | "expired"
  | "failed"
  | "error";

/**
 * Which `error`: the app backend's problem code (`entity-refused`, `integration-not-allowed`,
 * `scope-not-allowed`, `session-binding-invalid`, … see @securix/core) or one of these.
 */
export type ConnectErrorCode =
  | "backend-refused"
  | "backend-unreachable"
  | "bad-init-answer"
  | "untrusted-auth-url"
  | "internal"
  | (string & {});

export interface ConnectResult {
  success: boolean;
  sessionId?: string;
  /** Why `success` is false. */
  reason?: FailureReason;
  /** With `reason: "error"`: a stable code to match on. */
  code?: ConnectErrorCode;
  /** The message of an `error`, for people. */
  error?: string;
  /** The confirmed connections (ids and providers, never tokens). */
  connections?: unknown[];
}

/** Opens the popup at once: call it synchronously inside a click handler. Never rejects. */
export function connect(options: ConnectOptions): Promise<ConnectResult>;
/** 32 random bytes, base64url. */
export function createSxc(): string;
/** BASE64URL(SHA256(sxc)). */
export function sxcChallenge(sxc: string): Promise<string>;
