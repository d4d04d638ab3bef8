import type { GroupRole } from "../api/types";

/**
 * The question asked before handing a group over. Pigeon makes the old owner an ordinary
 * member (not an admin), so that is what it says.
 */
export function transferQuestion(name: string): string {
  return `Make ${name} the owner? You will become an ordinary member and can no longer manage the group.`;
}

export type ExitAction = "leave" | "dissolve" | "delete-chat";

/**
 * How I can leave a group, by my role and whether it is dissolved. A dissolved group is
 * read-only: nobody can leave it in the usual sense, but anyone (the owner too) may take it
 * off their list, which the API does by leaving it quietly. The owner of a live group must
 * hand it over or dissolve it; everyone else may leave.
 */
export function exitActions(role: GroupRole | null | undefined, dissolved: boolean): ExitAction[] {
  if (!role) return [];
  if (dissolved) return ["delete-chat"];
  return role === "owner" ? ["dissolve"] : ["leave"];
}
