// `npm run docs:config`: writes docs/configuration.md from the config schema and its key docs
// (config/configReference.ts). test/configReference.test.ts fails while the committed file differs.

import * as fs from "fs";
import * as path from "path";
import { configReference } from "../config/configReference";

const target = path.join(__dirname, "..", "docs", "configuration.md");
fs.writeFileSync(target, configReference());
console.log(`wrote ${path.relative(process.cwd(), target)}`);
