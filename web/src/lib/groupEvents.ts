import type { GroupRole } from "../api/types";

/** `group_updated` changes that take the people in `user_ids` out of the group. */
export const REMOVING_CHANGES: ReadonlySet<string> = new Set(["member_kicked", "member_left"]);

/**
 * True when a `group_updated` event removes me: I was kicked or I left. Other changes that name
 * me (an admin role taken away, a transfer) leave me a member; a dissolved group is shown as
 * dissolved rather than as one I was removed from.
 */
export function removesMe(change: string, userIds: readonly unknown[] | null | undefined, me: number | null): boolean {
  if (me === null || !REMOVING_CHANGES.has(change) || !Array.isArray(userIds)) return false;
  return userIds.some((id) => Number(id) === me);
}

/** Only a group's owner and admins may mention everyone ("@all"). */
export function canMentionAll(role: GroupRole | null | undefined): boolean {
  return role === "owner" || role === "admin";
}

export const MENTION_ALL_TAG = "@all";

/** Whether a text being sent still mentions everyone: "@all" picked, still in the text, and allowed. */
export function mentionsAll(text: string, picked: boolean, role: GroupRole | null | undefined): boolean {
  if (!picked || !canMentionAll(role)) return false;
  return /(^|\s)@all(?=$|[\s.,!?:;])/.test(text);
}
