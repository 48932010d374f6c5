import type { Securix, SecurixOptions } from "@securix/sdk";

export { SecurixConfigError, SecurixError } from "@securix/sdk";

/** One allowed integration: the scopes the page may ask for (all of them by default), and connection params. */
export interface AllowedIntegration {
  /** Left out: the page may ask for no scopes and SecuriX uses the integration's own. */
  scopes?: string[];
  /** Connection params (e.g. `{subdomain: "acme"}`); never taken from the page. */
  params?: Record<string, string>;
}

/** Integration key → what may be asked of it. */
export type ProviderAllowlist = Record<string, AllowedIntegration>;

export type Awaitable<T> = T | Promise<T>;

export interface SecurixHandlerOptions extends SecurixOptions {
  /** A configured client; default: one made from the other options or the environment. */
  securix?: Securix;
  /**
   * Required. The entity the request's signed-in user acts for, asked on every route
   * (`action`); `requestedEntityId` is what the page named, a hint only. Answer a falsy
   * value to refuse (403).
   */
  resolveEntityId: (
    request: Request,
    requestedEntityId: string | undefined,
    context: { action: "init" | "status" | "confirm" },
  ) => Awaitable<string | undefined | null | false>;
  /**
   * Required. The integrations and scopes a session may ask for; the page may pick a
   * subset, never anything else. A function decides per request and entity (a falsy
   * answer allows nothing).
   */
  providers: ProviderAllowlist | ((request: Request, entityId: string) => Awaitable<ProviderAllowlist | null | undefined>);
  /**
   * The secret that signs session bindings (at least 32 characters). Default: derived from
   * the API key. Every instance of the app must use the same.
   */
  bindingSecret?: string;
}

export type SecurixHandler = (request: Request) => Promise<Response>;

/** Throws SecurixConfigError (`code: "SECURIX_CONFIG"`) without `resolveEntityId` or `providers`. */
export function createSecurixHandler(options: SecurixHandlerOptions): SecurixHandler;
export function toNextJsHandler(handlerOrOptions: SecurixHandler | SecurixHandlerOptions): {
  GET: SecurixHandler;
  POST: SecurixHandler;
};
