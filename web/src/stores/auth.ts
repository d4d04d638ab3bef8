import { defineStore } from "pinia";
import { computed, ref } from "vue";
import type { User } from "../api/types";
import { deviceName } from "../lib/deviceName";
import { services } from "../services";

export const useAuthStore = defineStore("auth", () => {
  const api = () => services().api;
  const user = ref<User | null>(api().tokens.user());
  const loggedIn = computed(() => user.value !== null);
  const me = computed(() => user.value?.id ?? null);

  // Each login makes this browser a new device, named after the browser and its system.
  // Its tabs share the login (tokens in localStorage), so they are one device.
  async function login(username: string, password: string) {
    const t = await api().login(username.trim(), password, "web", deviceName());
    user.value = t.user;
    return t.user;
  }

  async function register(username: string, password: string, nickname?: string) {
    const t = await api().register(username.trim(), password, nickname?.trim(), "web", deviceName());
    user.value = t.user;
    return t.user;
  }

  async function logout() {
    await api().logout();
    user.value = null;
  }

  /** The session ended elsewhere (refresh failed, or another tab logged out). */
  function forget() {
    api().tokens.clear();
    user.value = null;
  }

  function setUser(u: User) {
    user.value = u;
    api().tokens.setUser(u);
  }

  async function refreshMe() {
    const u = await api().me();
    setUser(u);
    return u;
  }

  async function updateProfile(patch: { nickname?: string; avatar_url?: string; signature?: string }) {
    const u = await api().updateMe(patch);
    setUser(u);
    return u;
  }

  async function changePassword(oldPw: string, newPw: string) {
    await api().changePassword(oldPw, newPw);
  }

  /** Re-read the session written by another tab. */
  function reload() {
    user.value = api().tokens.user();
  }

  return { user, me, loggedIn, login, register, logout, forget, setUser, refreshMe, updateProfile, changePassword, reload };
});
