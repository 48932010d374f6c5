// The product brief's examples, type-checked against the packages' declarations.
// Each `@ts-expect-error` is a misuse the types must catch.

import { SecurixButton, connect } from "@securix/client";
import { createSecurixHandler, toNextJsHandler } from "@securix/core";
import { Securix, verifyWebhook } from "@securix/sdk";

export const button = (
  <SecurixButton
    entityId="user_123"
    providers={{
      gmail: { scopes: ["https://www.googleapis.com/auth/gmail.readonly"] },
    }}
    onResult={(success) => console.log("Auth result:", success)}
  >
    Connect Securely
  </SecurixButton>
);

// @ts-expect-error entityId is required
export const noEntity = <SecurixButton providers={{}} />;

export async function cli(): Promise<void> {
  const { authUrl, deviceAuthCode } = await Securix.auth.createSession({
    entityId: "cli_user_1",
    flow: "device",
    providers: {
      gmail: { scopes: ["https://www.googleapis.com/auth/gmail.readonly"] },
    },
  });
  console.log(`🔗 Open: ${authUrl}`);
  console.log(`🔑 Code: ${deviceAuthCode}`);
  // @ts-expect-error only "popup" and "device" exist
  await Securix.auth.createSession({ entityId: "u", flow: "sms", providers: {} });
}

export const { GET, POST } = toNextJsHandler({
  resolveEntityId: async () => "user_123",
  providers: { gmail: { scopes: ["https://www.googleapis.com/auth/gmail.readonly"] } },
});
export const perUser = createSecurixHandler({
  resolveEntityId: (_request, _requested, { action }) => (action === "init" ? "user_123" : null),
  providers: async (_request, entityId) => (entityId === "user_123" ? { github: { scopes: ["repo"] } } : null),
});
// @ts-expect-error resolveEntityId is required: the page's entityId is never trusted
export const noResolver = toNextJsHandler({ providers: { github: {} } });
// @ts-expect-error providers (the allowlist) is required: the page's providers are never trusted
export const noAllowlist = toNextJsHandler({ resolveEntityId: () => "user_123" });
// @ts-expect-error toNextJsHandler needs options
export const noOptions = toNextJsHandler();

export async function onClick(): Promise<boolean> {
  const result = await connect({ entityId: "user_123", providers: { github: { scopes: ["repo"] } } });
  const reason: "popup_blocked" | "closed" | "denied" | "expired" | "failed" | "error" | undefined = result.reason;
  return result.success && reason === undefined;
}

export function receive(payload: string, headers: Headers): string {
  return verifyWebhook({ payload, headers, publicKeys: ["whpk_…"] }).type;
}
