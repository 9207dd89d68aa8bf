import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printSortedSchema } from './schema/index.js';

/** `npm run schema:print`: regenerates the committed schema.graphql. */
export const schemaFile = fileURLToPath(new URL('../../schema.graphql', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(schemaFile, printSortedSchema());
  console.log(`wrote ${schemaFile}`);
}
