import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The console builds into web/dist, which the API server serves at /. Asset paths are
// relative so the console also works behind a reverse proxy under a sub-path.
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1024 },
  server: { proxy: { '/api': 'http://127.0.0.1:8080', '/metrics': 'http://127.0.0.1:8080' } },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.tsx', 'src/**/*.test.ts'],
  },
});
