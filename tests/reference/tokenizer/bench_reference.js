#!/usr/bin/env node
// Reference throughput for `layerscope-cli bench tokenize`: Hugging Face tokenizers (Rust, via npm
// @anush008/tokenizers) encoding the same file the same way: the whole file in one encode call, no special
// tokens, one cold pass then the best of N warm passes. RAYON_NUM_THREADS=1 keeps it single-threaded.
//
//   RAYON_NUM_THREADS=1 node bench_reference.js TOKENIZER.json TEXTFILE [N]
'use strict';
const fs = require('fs');
const { Tokenizer } = require('@anush008/tokenizers');

async function main() {
  const [tokPath, input, nArg] = process.argv.slice(2);
  if (!tokPath || !input) {
    console.error('usage: node bench_reference.js TOKENIZER.json TEXTFILE [N]');
    process.exit(2);
  }
  const repeat = Number(nArg || 5);
  const text = fs.readFileSync(input, 'utf8');
  const bytes = Buffer.byteLength(text, 'utf8');
  const t0 = process.hrtime.bigint();
  const tok = Tokenizer.fromFile(tokPath);
  const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
  let first = 0;
  let best = Infinity;
  let nIds = 0;
  for (let r = 0; r < 1 + Math.max(1, repeat); ++r) {
    const t = process.hrtime.bigint();
    const enc = await tok.encode(text, null, { addSpecialTokens: false });
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    nIds = enc.getLength();
    if (r === 0) first = s;
    else best = Math.min(best, s);
  }
  const mb = bytes / 1e6;
  console.log(`reference tokenizer ${tokPath} (load ${loadS.toFixed(3)} s)`);
  console.log(`input ${input}: ${bytes} bytes -> ${nIds} ids`);
  console.log(`encode: first pass ${(mb / first).toFixed(2)} MB/s (cold cache), best of ${repeat} warm passes ` +
    `${(mb / best).toFixed(2)} MB/s`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
