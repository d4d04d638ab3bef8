import { defineConfig } from "vitest/config";
import vue from "@vitejs/plugin-vue";
import { constants } from "node:zlib";
import { compression, defineAlgorithm } from "vite-plugin-compression2";

const target = process.env.PIGEON_DEV_TARGET ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/",
  plugins: [
    vue(),
    // name.br and name.gz beside each file, at the highest levels: the server sends them
    // as they are, so compressing costs build time only.
    compression({
      algorithms: [
        defineAlgorithm("brotliCompress", { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        defineAlgorithm("gzip", { level: 9 }),
      ],
    }),
  ],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
  },
  server: {
    proxy: {
      "/api": { target, changeOrigin: true },
      "/healthz": { target, changeOrigin: true },
      "/ws": { target, ws: true, changeOrigin: true },
    },
  },
  test: {
    include: ["tests/**/*.test.ts"],
    environment: "happy-dom",
  },
});
