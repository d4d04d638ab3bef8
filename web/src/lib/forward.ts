import type { ForwardResult } from "../api/types";
import { friendlyCode } from "../api/errors";

/** A fresh `client_msg_id` for one forward (≤ 24 characters): a retry of it stores nothing twice. */
export function forwardId(): string {
  const rand = Math.random().toString(36).slice(2, 12);
  return `fw-${Date.now().toString(36)}-${rand}`.slice(0, 24);
}

/** The targets that refused the forward, each with a line that says why. */
export function refusals(results: readonly ForwardResult[], titleOf: (cid: number) => string): string[] {
  return results
    .filter((r) => r.error)
    .map((r) => `${titleOf(r.conversation_id)}: ${friendlyCode(r.error!.code, r.error!.message || r.error!.code)}`);
}
