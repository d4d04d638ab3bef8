/** An error answered by the Pigeon API (`{"error": {"code", "message"}}`) or a network failure. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  /** True when the request never got an answer (offline, server down). */
  get isNetwork(): boolean {
    return this.status === 0;
  }

  static network(cause: unknown): ApiError {
    const msg = cause instanceof Error ? cause.message : String(cause);
    return new ApiError(0, "network_error", `Cannot reach Pigeon (${msg})`);
  }
}

const FRIENDLY: Record<string, string> = {
  username_taken: "That username is taken.",
  edit_window_passed: "This message is too old to edit.",
  not_editable: "Only text messages can be edited.",
  weak_password: "Choose a stronger password: at least 8 characters, mixing letters and digits or symbols.",
  wrong_password: "Wrong username or password.",
  invalid_refresh_token: "Your session has ended. Please log in again.",
  not_friends: "You can only message friends.",
  blocked: "You cannot message this person.",
  not_member: "You are not a member of this group.",
  not_admin: "Only the group's owner or admins can do that.",
  group_dissolved: "This group has been dissolved.",
  recall_window_passed: "It is too late to recall this message.",
  rate_limited: "Slow down a little and try again.",
  payload_too_large: "That is too large to send.",
  invalid_image: "That image could not be read. Send a PNG, JPEG, GIF or WebP image, or send it as a file.",
};

/**
 * The same codes where a screen means something narrower: `wrong_password` from the password
 * change is about the current password alone, there is no username to get wrong.
 */
export const PASSWORD_CHANGE_ERRORS: Readonly<Record<string, string>> = {
  wrong_password: "The current password is wrong.",
};

/**
 * A message to show a person for an error code, falling back to the server's own text.
 * `overrides` gives the wording for codes that mean something narrower on one screen.
 */
export function friendlyError(e: unknown, overrides: Readonly<Record<string, string>> = {}): string {
  if (e instanceof ApiError) return overrides[e.code] ?? FRIENDLY[e.code] ?? e.message ?? e.code;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function friendlyCode(code: string, fallback: string): string {
  return FRIENDLY[code] ?? fallback;
}
