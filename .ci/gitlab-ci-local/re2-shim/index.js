'use strict';
// node-re2 always works in Unicode mode ("u" is always on); re2-wasm requires the flag.
const { RE2: WasmRE2 } = require('re2-wasm');

function RE2(pattern, flags) {
  if (pattern instanceof WasmRE2 || pattern instanceof RegExp) {
    flags = flags === undefined ? pattern.flags : flags;
    pattern = pattern.source;
  }
  flags = String(flags === undefined ? '' : flags);
  return new WasmRE2(pattern, flags.includes('u') ? flags : flags + 'u');
}

module.exports = RE2;
module.exports.RE2 = RE2;
module.exports.default = RE2;
