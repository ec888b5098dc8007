// npm run chart:schema: regenerates helm/vigil/values.schema.json.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderValuesSchema, VALUES_SCHEMA_PATH } from './values-schema.js';

writeFileSync(path.resolve(import.meta.dirname, '../..', VALUES_SCHEMA_PATH), renderValuesSchema());
console.log(`wrote ${VALUES_SCHEMA_PATH}`);
