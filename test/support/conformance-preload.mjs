// Loaded with `node --import` before the MCP conformance CLI
// (@modelcontextprotocol/conformance 0.1.x). The CLI imports `globSync` from
// node:fs, which Node 20 lacks; a resolve hook hands it node:fs plus a stub
// globSync (only the CLI's tier-check command calls it). On Node 22+ nothing is done.
import { register } from 'node:module';
import fs from 'node:fs';

const fsWithGlob =
  "import fs from 'node:fs'; export * from 'node:fs'; export default fs; " +
  "export function globSync() { throw new Error('fs.globSync needs Node 22'); }";

const hook = `export async function resolve(specifier, context, next) {
  if ((specifier === 'fs' || specifier === 'node:fs') && !context.parentURL?.startsWith('data:')) {
    return { url: 'data:text/javascript,' + encodeURIComponent(${JSON.stringify(fsWithGlob)}), shortCircuit: true };
  }
  return next(specifier, context);
}`;

if (typeof fs.globSync !== 'function') register('data:text/javascript,' + encodeURIComponent(hook));
