export { connect, createSxc, sxcChallenge } from "./connect.js";
export { SecurixButton } from "./button.js";
