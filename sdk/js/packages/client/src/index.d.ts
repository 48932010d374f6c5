import type { ReactNode, ButtonHTMLAttributes, ReactElement } from "react";
import type { ConnectOptions, ConnectResult } from "./connect.js";

export * from "./connect.js";

export interface SecurixButtonProps
  extends ConnectOptions,
    Omit<ButtonHTMLAttributes<HTMLButtonElement>, "onClick" | "type" | "children"> {
  /** Called once per click with the outcome. */
  onResult?: (success: boolean, details: ConnectResult) => void;
  children?: ReactNode;
}

export function SecurixButton(props: SecurixButtonProps): ReactElement;
