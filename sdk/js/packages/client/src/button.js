// SecurixButton: a plain <button> that runs connect() inside its click handler.
import * as React from "react";

import { connect } from "./connect.js";

/**
 * `onResult(success, details)` is called once per click: `details` is what connect()
 * resolved with (`reason` says why when `success` is false).
 */
export function SecurixButton({
  entityId,
  providers,
  onResult,
  children,
  initUrl,
  statusUrl,
  confirmUrl,
  headers,
  popup,
  securixOrigin,
  disabled,
  ...buttonProps
}) {
  const [busy, setBusy] = React.useState(false);
  const onClick = () => {
    if (busy) return;
    setBusy(true);
    const routes = Object.fromEntries(
      Object.entries({ initUrl, statusUrl, confirmUrl }).filter(([, value]) => value !== undefined),
    );
    connect({ entityId, providers, headers, popup, securixOrigin, ...routes }).then((result) => {
      setBusy(false);
      onResult?.(result.success, result);
    });
  };
  return React.createElement(
    "button",
    { type: "button", ...buttonProps, onClick, disabled: Boolean(disabled) || busy, "aria-busy": busy },
    children ?? "Connect",
  );
}
