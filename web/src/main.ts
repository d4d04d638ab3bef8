import { createApp } from "vue";
import { createPinia } from "pinia";
import App from "./App.vue";
import { router } from "./router";
import { useThemeStore } from "./stores/theme";
import "./styles.css";

const app = createApp(App);
app.use(createPinia());
useThemeStore().start();
app.use(router);
app.mount("#app");
