/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

// Tauri sets TAURI_ENV_DEBUG for `tauri build --debug`; keep those bundles readable.
const debug = Boolean( process.env.TAURI_ENV_DEBUG );
const devHost = process.env.TAURI_DEV_HOST;

export default defineConfig( {
	// Relative asset URLs so the bundle works from tauri://localhost and from disk.
	base: './',
	plugins: [ vue() ],
	resolve: {
		alias: { '@': fileURLToPath( new URL( './src', import.meta.url ) ) }
	},
	clearScreen: false,
	envPrefix: [ 'VITE_', 'TAURI_ENV_' ],
	server: {
		port: 1420,
		strictPort: true,
		host: devHost || false,
		hmr: devHost ? { protocol: 'ws', host: devHost, port: 1421 } : undefined,
		watch: { ignored: [ '**/src-tauri/**' ] }
	},
	build: {
		// WebKitGTK on Linux and WKWebView on macOS are the oldest engines we ship to.
		target: [ 'es2021', 'safari15' ],
		outDir: 'dist',
		emptyOutDir: true,
		sourcemap: debug,
		minify: debug ? false : 'esbuild',
		// Never turn assets into data: URIs or inline anything: the CSP is `default-src 'self'`.
		assetsInlineLimit: 0,
		chunkSizeWarningLimit: 1024
	},
	test: {
		environment: 'happy-dom',
		setupFiles: [ 'src/test/setup.ts' ],
		include: [ 'src/**/*.test.ts' ],
		restoreMocks: false
	}
} );
