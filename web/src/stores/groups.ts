import { defineStore } from "pinia";
import { ref } from "vue";
import type { Group, GroupMember } from "../api/types";
import { services } from "../services";
import { useUsersStore } from "./users";

export const useGroupsStore = defineStore("groups", () => {
  const api = () => services().api;
  const groups = ref<Record<number, Group>>({});
  const members = ref<Record<number, GroupMember[]>>({});

  function put(g: Group) { groups.value[g.id] = { ...groups.value[g.id], ...g }; }

  async function load(id: number) {
    const g = await api().group(id);
    put(g);
    return g;
  }
  async function loadMembers(id: number) {
    const all: GroupMember[] = [];
    let after = 0;
    for (let i = 0; i < 200; i++) {
      const page = await api().members(id, after, 200);
      all.push(...page.members);
      if (!page.next || !page.members.length) break;
      after = page.next;
    }
    members.value[id] = all;
    useUsersStore().put(all.map((m) => m.user));
    return all;
  }
  function member(gid: number, uid: number): GroupMember | undefined {
    return members.value[gid]?.find((m) => m.user.id === uid);
  }
  async function create(name: string, memberIds: number[]) {
    const g = await api().createGroup(name, memberIds);
    put(g);
    return g;
  }
  async function update(id: number, patch: { name?: string; notice?: string; avatar_url?: string }) {
    const g = await api().updateGroup(id, patch);
    if (g && typeof g === "object" && "id" in g) put(g); else await load(id);
  }
  async function afterChange(id: number) {
    await Promise.allSettled([load(id), loadMembers(id)]);
  }
  async function invite(id: number, userIds: number[]) { await api().invite(id, userIds); await afterChange(id); }
  async function kick(id: number, userId: number) { await api().kick(id, userId); await afterChange(id); }
  async function quit(id: number) { await api().quit(id); delete members.value[id]; }
  async function dissolve(id: number) { await api().dissolve(id); await load(id).catch(() => undefined); }
  async function transfer(id: number, userId: number) { await api().transfer(id, userId); await afterChange(id); }
  async function setAdmin(id: number, userId: number, on: boolean) { await api().setAdmin(id, userId, on); await afterChange(id); }
  async function setAlias(id: number, alias: string) { await api().setAlias(id, alias); await loadMembers(id); }
  function reset() { groups.value = {}; members.value = {}; }

  return { groups, members, put, load, loadMembers, member, create, update, afterChange, invite, kick, quit, dissolve, transfer, setAdmin, setAlias, reset };
});
