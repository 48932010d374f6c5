// The errors of @securix/sdk (and @securix/core, which re-exports them). Each carries a
// stable `code`: match on it, never on the message, which is for people.

/** A SecuriX error answer (RFC 9457 problem+json), a transport failure, or a call refused before it was sent. */
export class SecurixError extends Error {
  constructor(message, { status, type, detail, code, refused, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "SecurixError";
    /**
     * `SECURIX_API` (SecuriX answered a problem: see `status` and `type`),
     * `SECURIX_UNREACHABLE`, `SECURIX_TIMEOUT`, `SECURIX_ABORTED`,
     * `SECURIX_INVALID_ARGUMENT` (refused before any request) or `SECURIX_CONFIG`.
     */
    this.code = code ?? (status === undefined ? "SECURIX_UNREACHABLE" : "SECURIX_API");
    /** The HTTP status, or undefined when SecuriX did not answer. */
    this.status = status;
    /** The stable problem type URI. */
    this.type = type;
    this.detail = detail;
    /** `agent-not-allowed` only: what the agent's grant lacks (`method`, `path`, `integration`, `scopes`, `expired`). */
    this.refused = refused;
  }
}

/**
 * The user an agent called for has not connected yet (or must authorize again):
 * SecuriX began a device session for them. Hand `authUrl` and `deviceAuthCode` to the
 * user, wait (`securix.auth.waitForAuthorization(error)`), then retry the call.
 */
export class AuthorizationRequiredError extends SecurixError {
  constructor(message, { status, type, detail, sessionId, authUrl, deviceAuthCode, expiresAt }) {
    super(message, { code: "SECURIX_AUTHORIZATION_REQUIRED", status, type, detail });
    this.name = "AuthorizationRequiredError";
    this.sessionId = sessionId;
    this.authUrl = authUrl;
    this.deviceAuthCode = deviceAuthCode;
    this.expiresAt = expiresAt;
  }
}

/**
 * A setting that cannot work safely (no API key, an API key sent over plain http, a
 * handler without `resolveEntityId` or without an allowlist). Thrown where the setting is
 * made, so a misconfigured app fails at start instead of failing open.
 */
export class SecurixConfigError extends SecurixError {
  constructor(message) {
    super(message, { code: "SECURIX_CONFIG" });
    this.name = "SecurixConfigError";
  }
}

/**
 * A webhook delivery that must not be trusted. `code` is one of
 * `SECURIX_WEBHOOK_HEADERS`, `SECURIX_WEBHOOK_TIMESTAMP`, `SECURIX_WEBHOOK_SIGNATURE`,
 * `SECURIX_WEBHOOK_PAYLOAD` or `SECURIX_WEBHOOK_KEY` (a trusted key that is not a `whpk_` key).
 */
export class WebhookVerificationError extends Error {
  constructor(message, code = "SECURIX_WEBHOOK_SIGNATURE") {
    super(message);
    this.name = "WebhookVerificationError";
    this.code = code;
  }
}
