import type { Securix, SecurixOptions } from "@securix/sdk";

export interface SecurixHandlerOptions extends SecurixOptions {
  /** A configured client; default: one made from the other options or the environment. */
  securix?: Securix;
  /**
   * Which entity the signed-in user may connect; answer a falsy value to refuse.
   * Default: trust the page's `entityId` (demos only).
   */
  resolveEntityId?: (request: Request, requestedEntityId: string | undefined) => string | undefined | null | Promise<string | undefined | null>;
}

export type SecurixHandler = (request: Request) => Promise<Response>;

export function createSecurixHandler(options?: SecurixHandlerOptions): SecurixHandler;
export function toNextJsHandler(handlerOrOptions?: SecurixHandler | SecurixHandlerOptions): {
  GET: SecurixHandler;
  POST: SecurixHandler;
};
