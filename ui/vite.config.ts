// Vite builds the UI into ui/dist, which the Tauri shell loads and `airlock serve` serves at `/`.
// Relative asset paths (`base: "./"`) make the same build work from a file URL and from any host.
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 1500 },
  server: {
    // `npm run dev` proxies the API to a running `airlock serve` (default port 4141).
    proxy: { "/api": { target: process.env.AIRLOCK_URL ?? "http://127.0.0.1:4141", changeOrigin: false } },
  },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
} as never);
