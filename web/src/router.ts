import { createRouter, createWebHistory } from "vue-router";
import { useAuthStore } from "./stores/auth";

export const router = createRouter({
  history: createWebHistory("/"),
  routes: [
    { path: "/login", name: "login", component: () => import("./views/AuthView.vue"), props: { mode: "login" }, meta: { guest: true } },
    { path: "/register", name: "register", component: () => import("./views/AuthView.vue"), props: { mode: "register" }, meta: { guest: true } },
    {
      path: "/",
      component: () => import("./views/MainLayout.vue"),
      children: [
        { path: "", name: "chats", component: () => import("./views/EmptyChat.vue") },
        { path: "c/:id(\\d+)", name: "chat", component: () => import("./views/ChatView.vue"), props: (r) => ({ id: Number(r.params.id) }) },
        { path: "contacts", name: "contacts", component: () => import("./views/ContactsView.vue") },
        { path: "me", name: "me", component: () => import("./views/MeView.vue") },
      ],
    },
    { path: "/:rest(.*)*", redirect: "/" },
  ],
});

router.beforeEach((to) => {
  const auth = useAuthStore();
  if (to.meta.guest) return auth.loggedIn ? { name: "chats" } : true;
  if (!auth.loggedIn) return { name: "login", query: to.fullPath !== "/" ? { next: to.fullPath } : {} };
  return true;
});
