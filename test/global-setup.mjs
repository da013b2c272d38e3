export { setup as default } from './global-temp-dir.mjs';
