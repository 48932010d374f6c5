// Validates an OpenAPI document with @apidevtools/swagger-parser, an implementation
// independent of the one that wrote it. Usage: node validate-openapi.mjs URL|FILE
// Prints one JSON line {"valid": true, openapi, paths, operations} and exits 0, or
// prints why it is invalid on standard error and exits 1.
//
// swagger-parser checks the document against the OpenAPI JSON Schema of its version
// and resolves every $ref; for OpenAPI 3 it leaves out the rules the schema cannot
// state, so the two that matter to client generators are checked here: operation
// ids are unique, and each path's template variables are exactly its required path
// parameters.
import { readFile } from "node:fs/promises";
import SwaggerParser from "@apidevtools/swagger-parser";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async function load(source) {
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`GET ${source} answered ${response.status}`);
    return response.json();
  }
  return JSON.parse(await readFile(source, "utf8"));
}

function checkOperations(api) {
  const ids = new Map();
  let operations = 0;
  for (const [path, item] of Object.entries(api.paths ?? {})) {
    const template = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      operations += 1;
      const at = `${method.toUpperCase()} ${path}`;
      if (operation.operationId !== undefined) {
        if (ids.has(operation.operationId)) {
          throw new Error(`${at}: operationId ${operation.operationId} is also ${ids.get(operation.operationId)}'s`);
        }
        ids.set(operation.operationId, at);
      }
      const parameters = [...(item.parameters ?? []), ...(operation.parameters ?? [])];
      const inPath = parameters.filter((p) => p.in === "path");
      for (const parameter of inPath) {
        if (parameter.required !== true) throw new Error(`${at}: path parameter ${parameter.name} is not required`);
      }
      const declared = [...new Set(inPath.map((p) => p.name))].sort();
      if (JSON.stringify(declared) !== JSON.stringify(template)) {
        throw new Error(`${at}: the path has {${template.join("}, {")}} but declares ${JSON.stringify(declared)}`);
      }
    }
  }
  return operations;
}

const [source] = process.argv.slice(2);
if (!source) {
  console.error("usage: node validate-openapi.mjs URL|FILE");
  process.exit(2);
}
try {
  const document = await load(source);
  // validate() dereferences the object it is given: keep the original for the checks.
  const api = await SwaggerParser.validate(structuredClone(document));
  const operations = checkOperations(api);
  const paths = Object.keys(api.paths ?? {}).length;
  console.log(JSON.stringify({ valid: true, openapi: document.openapi, paths, operations }));
} catch (error) {
  console.error(`invalid OpenAPI document ${source}: ${error.message}`);
  process.exit(1);
}
