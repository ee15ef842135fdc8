// Regenerates assets/collector/genai.yaml from the price book (run through `npm run genai-config`).
import { writeGenaiConfig } from '../dist/src/genai/collector-config.js';

console.log(`wrote ${writeGenaiConfig()}`);
