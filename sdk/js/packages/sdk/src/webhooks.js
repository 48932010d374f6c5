// Standard Webhooks v1a (ed25519) verification with Node's own crypto.

import crypto from "node:crypto";

import { SecurixConfigError, WebhookVerificationError } from "./errors.js";

/** The fixed DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 key bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * Answers the parsed event when at least one `v1a` signature of `headers` verifies over
 * `{id}.{timestamp}.{payload}` with one of `publicKeys` (`whpk_…`) and the timestamp is
 * within `toleranceSeconds` of `now` (seconds); throws WebhookVerificationError otherwise.
 * `payload` must be the raw body, exactly as received.
 *
 * A `toleranceSeconds` or `now` that is not a finite number (say, `Number(undefined)`
 * from a missing setting) is a SecurixConfigError: it would otherwise accept any timestamp.
 */
export function verifyWebhook({ payload, headers, publicKeys, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS, now } = {}) {
  if (typeof toleranceSeconds !== "number" || !Number.isFinite(toleranceSeconds) || toleranceSeconds < 0) {
    throw new SecurixConfigError("toleranceSeconds must be a finite number of seconds, at least 0");
  }
  if (now !== undefined && (typeof now !== "number" || !Number.isFinite(now))) {
    throw new SecurixConfigError("now must be a finite number of seconds since the epoch");
  }
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError(
      "the webhook-id, webhook-timestamp and webhook-signature headers are required",
      "SECURIX_WEBHOOK_HEADERS",
    );
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new WebhookVerificationError("webhook-timestamp is not a number of seconds", "SECURIX_WEBHOOK_TIMESTAMP");
  }
  const current = now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(current - Number(timestamp)) > toleranceSeconds) {
    throw new WebhookVerificationError("webhook-timestamp is too old or in the future", "SECURIX_WEBHOOK_TIMESTAMP");
  }
  if (typeof payload !== "string" && !(payload instanceof Uint8Array)) {
    throw new WebhookVerificationError(
      "payload must be the raw body (a string or bytes), not a parsed object",
      "SECURIX_WEBHOOK_PAYLOAD",
    );
  }
  const body = Buffer.from(payload);
  const content = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
  const keys = (publicKeys ?? []).map(publicKey);
  const verified = signatures.split(" ").some((part) => {
    if (!part.startsWith("v1a,")) return false;
    const signature = Buffer.from(part.slice(4), "base64");
    return signature.length === 64 && keys.some((key) => crypto.verify(null, content, key, signature));
  });
  if (!verified) throw new WebhookVerificationError("no signature verifies with a trusted key", "SECURIX_WEBHOOK_SIGNATURE");
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new WebhookVerificationError("the payload is not JSON", "SECURIX_WEBHOOK_PAYLOAD");
  }
}

function publicKey(text) {
  const raw = Buffer.from(String(text).replace(/^whpk_/, ""), "base64");
  if (raw.length !== 32) {
    throw new WebhookVerificationError(`not a whpk_ public key: ${String(text).slice(0, 12)}…`, "SECURIX_WEBHOOK_KEY");
  }
  return crypto.createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

function header(headers, name) {
  if (!headers) return undefined;
  if (typeof headers.get === "function") return headers.get(name) ?? undefined;
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
